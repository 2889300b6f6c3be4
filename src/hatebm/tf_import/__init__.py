"""The authors' TensorFlow models (point0bar1/hat-ebm) in hatebm: their checkpoints read with numpy alone
(:mod:`~hatebm.tf_import.bundle`), their networks' layouts (:mod:`~hatebm.tf_import.layout`), optimiser files
(:mod:`~hatebm.tf_import.optim`) and experiments (:mod:`~hatebm.tf_import.experiments`), and the importer that writes
a run folder (:func:`import_tf`)."""
from hatebm.tf_import.bundle import TFCheckpoint
from hatebm.tf_import.experiments import EXPERIMENTS
from hatebm.tf_import.importer import import_tf, network

__all__ = ["EXPERIMENTS", "TFCheckpoint", "import_tf", "network"]
