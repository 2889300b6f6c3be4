"""Evaluation: FID/KID (`hatebm.eval.fid`, network in `hatebm.eval.inception`) and figures.

Submodules are imported on use, so `import hatebm.eval` stays light."""
