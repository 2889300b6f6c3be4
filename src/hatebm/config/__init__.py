"""Typed run configurations (:mod:`~hatebm.config.schema`), presets (:mod:`~hatebm.config.presets`) and their JSON
form, JSON Schema and overrides (:mod:`~hatebm.config.parse`)."""
from hatebm.config.parse import differences, from_dict, json_schema, load_config, override, to_dict
from hatebm.config.presets import PRESETS, preset, preset_names
from hatebm.config.schema import (CONFIGS, AutoencoderConfig, DataConfig, GanConfig, GeneratorConfig, HatConfig,
                                  JointConfig, ModelConfig, PretrainConfig, RunConfig, TandemConfig, TandemSampler,
                                  TrainingSampler)

__all__ = ["CONFIGS", "PRESETS", "AutoencoderConfig", "DataConfig", "GanConfig", "GeneratorConfig", "HatConfig",
           "JointConfig", "ModelConfig", "PretrainConfig", "RunConfig", "TandemConfig", "TandemSampler",
           "TrainingSampler", "differences", "from_dict", "json_schema", "load_config", "override", "preset",
           "preset_names", "to_dict"]
