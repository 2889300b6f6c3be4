"""Evaluation of trained models.

- `hatebm.eval.fid`: FID and KID of samples (`compute_metrics`), with the formulas in `hatebm.eval.metrics`, the
  Inception network and its features in `hatebm.eval.inception`, and reference statistics (cached, or another
  tool's mu/sigma .npz) in `hatebm.eval.reference`;
- `hatebm.eval.proxy`: proxy FID on a small classifier's features (not FID);
- `hatebm.eval.ood`: OOD detection by the hat energy;
- `hatebm.eval.figures`: grids, Langevin paths, histograms, training curves;
- `hatebm.eval.samples`: the samples to evaluate (files, or drawn from a checkpoint);
- `hatebm.eval.common`: what the evaluations share (image checks, image sets, result files).

Submodules are imported on use, so `import hatebm.eval` stays light."""
