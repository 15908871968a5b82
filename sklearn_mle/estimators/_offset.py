"""Per-sample inputs of a prediction besides X: the offset (a known term in the mean's
linear predictor, given as ``offset`` or, for log-link families, as ``exposure``, its
log; for the classifier, in the logit or in each class's score) and the binomial's
number of trials.

``y_i`` counted over an exposure ``e_i`` (policy-years, person-months) has mean
``e_i * exp(x_i @ coef + intercept)``: the rate model with offset ``log e_i``, as in
R's ``offset()``, statsmodels' ``offset=`` / ``exposure=`` and glum's ``offset``.
"""

import numpy as np
from sklearn.utils.validation import check_array


def validated_offset(family, offset, exposure, n_samples):
    """The offset (n_samples,) float64 from ``offset`` or ``exposure``, or None.

    Raises a ValueError naming the problem for both given at once, a shape other than
    one value per sample, values that are not finite, a non-positive exposure, or an
    exposure for a family whose mean's link is not the log.
    """
    if offset is not None and exposure is not None:
        raise ValueError("Pass offset or exposure, not both: exposure e is the offset "
                         "log(e).")
    if exposure is not None:
        if family.link != "log":
            raise ValueError(
                f"exposure multiplies the mean, which is the offset log(exposure) of a "
                f"log-link family; the {family.name} mean has a {family.link} link: "
                "pass the term it adds to the linear predictor as offset= instead.")
        exposure = _per_sample(exposure, "exposure", n_samples)
        if not np.all(exposure > 0):
            raise ValueError(f"exposure must be positive, got {float(exposure.min()):g} "
                             f"at sample {int(np.argmin(exposure))}.")
        return np.log(exposure)
    if offset is None:
        return None
    return _per_sample(offset, "offset", n_samples)


def _per_sample(values, name, n_samples):
    values = check_array(values, ensure_2d=False, dtype=np.float64, input_name=name,
                         ensure_min_samples=0)
    if values.shape != (n_samples,):
        raise ValueError(f"{name} must have one value per sample, shape ({n_samples},); "
                         f"got shape {values.shape}.")
    return values


def validated_class_offset(offset, n_samples, n_classes):
    """The classifier's offset in its model's layout, float64, or None.

    Two classes: shape (n_samples,), added to the logit of the second class; an
    (n_samples, 2) offset, one column per class, is the same model with the logit's
    offset ``offset[:, 1] - offset[:, 0]`` (a softmax over two scores depends on their
    difference only).  More classes: (n_samples, n_classes), added to each class's
    score.  Raises a ValueError naming the problem otherwise: values that are not
    finite, another shape, or a 1-D offset with more than two classes (the same term
    added to every class's score cancels in the softmax).
    """
    if offset is None:
        return None
    offset = check_array(offset, ensure_2d=False, dtype=np.float64, input_name="offset",
                         ensure_min_samples=0, ensure_min_features=0)
    per_class = (n_samples, n_classes)
    if n_classes > 2 and offset.shape == (n_samples,):
        raise ValueError(
            f"offset of shape ({n_samples},) with {n_classes} classes: a term added to "
            "every class's score cancels in the softmax, so it would change nothing; "
            f"pass one column per class (in the order of classes_), shape {per_class}.")
    if n_classes == 2 and offset.shape == per_class:
        return offset[:, 1] - offset[:, 0]
    if offset.shape != ((n_samples,) if n_classes == 2 else per_class):
        accepted = (f"({n_samples},) (added to the logit of classes_[1]) or {per_class} "
                    "(one column per class)" if n_classes == 2 else
                    f"{per_class} (one column per class, in the order of classes_)")
        raise ValueError(f"offset must have shape {accepted}; got shape {offset.shape}.")
    return offset


def validated_trials(family, trials, n_samples):
    """The binomial's number of trials of each prediction (n_samples,) float64, or None.

    ``trials`` is a positive whole number or one per sample; a ValueError names the
    problem otherwise, or when the family's weights are not numbers of trials.
    """
    if trials is None:
        return None
    if not family.weights_are_trials:
        raise ValueError(f"trials is the number of trials of a binomial prediction; the "
                         f"{family.name} distribution has none.")
    trials = np.broadcast_to(np.asarray(trials, dtype=np.float64), (n_samples,)) \
        if np.ndim(trials) == 0 else _per_sample(trials, "trials", n_samples)
    if not (np.all(np.isfinite(trials)) and np.all(trials >= 1)
            and np.all(trials == np.round(trials))):
        bad = int(np.flatnonzero(~(np.isfinite(trials) & (trials >= 1)
                                   & (trials == np.round(trials))))[0])
        raise ValueError(f"trials must be whole numbers >= 1, got {float(trials[bad]):g} "
                         f"at sample {bad}.")
    return trials
