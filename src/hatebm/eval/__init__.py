"""Evaluation: FID and KID (`hatebm.eval.fid`, network and preprocessing in `hatebm.eval.inception`), proxy FID on a
small classifier's features (`hatebm.eval.proxy`, not FID), OOD detection by the hat energy (`hatebm.eval.ood`) and
figures (`hatebm.eval.figures`).

Submodules are imported on use, so `import hatebm.eval` stays light."""
