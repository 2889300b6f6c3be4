"""Evaluation: FID and KID (`hatebm.eval.fid`, network and preprocessing in `hatebm.eval.inception`) and more.

Submodules are imported on use, so `import hatebm.eval` stays light."""
