"""The distillation loss (Hinton, Vinyals & Dean, 2015)."""

import torch
from torch import nn
from torch.nn import functional as F


class DistillationLoss(nn.CrossEntropyLoss):
    """``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(y)``.

    The target of each sample is one row ``[teacher_logits (K), label, is_real]``:
    teacher logits (log-probabilities for non-neural teachers), the hard label
    index, and 1 for real samples or 0 for synthetic ones, which get the soft
    term only.  It subclasses ``CrossEntropyLoss`` so that skorch still applies
    softmax in ``predict_proba`` of a net trained with it.
    """

    def __init__(self, temperature=4.0, alpha=0.9):
        super().__init__()
        self.temperature = temperature
        self.alpha = alpha

    def forward(self, student_logits, target):
        student_logits, target = members_as_rows(student_logits, target)
        K = student_logits.shape[1]
        T = self.temperature
        teacher_logits = target[:, :K]
        labels = target[:, K].long()
        is_real = target[:, K + 1]
        soft_teacher = F.log_softmax(teacher_logits / T, dim=1)
        soft_student = F.log_softmax(student_logits / T, dim=1)
        kl = F.kl_div(soft_student, soft_teacher, log_target=True, reduction="none").sum(dim=1)
        loss = self.alpha * T * T * kl
        if self.alpha < 1:
            ce = F.cross_entropy(student_logits, labels, reduction="none")
            loss = loss + (1 - self.alpha) * is_real * ce
        return loss.mean()


def members_as_rows(prediction, target):
    """A student's member outputs ``(batch, k, K)`` (TabM in training) as ``batch * k`` rows, each with its target.

    The mean of the losses over these rows is the mean over the rows of the
    members' mean loss, which is how an ensemble trained in one pass learns.
    2-D predictions are returned as they are.
    """
    if prediction.dim() != 3:
        return prediction, target
    k = prediction.shape[1]
    return prediction.flatten(0, 1), target.repeat_interleave(k, dim=0)


def teacher_logits_from_proba(proba, floor=1e-6):
    """Log-probabilities with a floor, so that a zero probability is not -inf."""
    proba = torch.as_tensor(proba, dtype=torch.float64).clamp_min(floor)
    return torch.log(proba / proba.sum(dim=1, keepdim=True)).float().numpy()


class RegressionDistillationLoss(nn.MSELoss):
    """``alpha * MSE(teacher) + (1 - alpha) * MSE(y)`` on real samples, ``MSE(teacher)`` on synthetic ones.

    The target of each sample is one row ``[teacher (K), y (K), is_real]``:
    the teacher's predictions and the true targets (both in the student's
    standardised units; ``y`` is 0 on synthetic rows) and 1 for real samples
    or 0 for synthetic ones.  It subclasses ``MSELoss`` so that a net trained
    with it is still recognised as a regressor.
    """

    def __init__(self, alpha=0.9):
        super().__init__()
        self.alpha = alpha

    def forward(self, prediction, target):
        prediction, target = members_as_rows(prediction, target)
        K = prediction.shape[1]
        teacher, y, is_real = target[:, :K], target[:, K : 2 * K], target[:, 2 * K]
        to_teacher = ((prediction - teacher) ** 2).mean(dim=1)
        to_y = ((prediction - y) ** 2).mean(dim=1)
        teacher_weight = torch.where(is_real > 0, torch.full_like(is_real, self.alpha), torch.ones_like(is_real))
        return (teacher_weight * to_teacher + (1 - self.alpha) * is_real * to_y).mean()
