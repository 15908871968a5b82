"""The solver: preconditioned L-BFGS over a model's objective (``_lbfgs.py``), the one
call every fit makes (``_fit.py``), the sample weights of the objective
(``_weights.py``) and the verbose progress report (``_progress.py``)."""
