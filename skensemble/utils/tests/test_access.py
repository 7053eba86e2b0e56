import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from torch import nn

from skensemble.nets import MLPNetClassifier, TensorLoader
from skensemble.utils import get_module, get_net, is_net, resolve_device


class UserModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 3)

    def forward(self, X):
        return self.lin(X)


def test_get_net_through_wrappers(small_data):
    X, y = small_data
    net = MLPNetClassifier((4,), max_epochs=1).fit(X, y)
    assert get_net(net) is net.net_
    assert get_module(FrozenEstimator(net)) is net.module_
    pipe = make_pipeline(StandardScaler(), net)
    assert get_module(pipe) is net.module_
    assert is_net(pipe) and is_net(MLPNetClassifier())


def test_user_skorch_net_is_reachable(small_data):
    X, y = small_data
    user = NeuralNetClassifier(UserModule, criterion=nn.CrossEntropyLoss, max_epochs=1,
                               train_split=None)
    assert is_net(user)
    with pytest.raises(NotFittedError):
        get_net(user)
    user.fit(X.astype(np.float32), y.astype(np.int64))
    assert isinstance(get_module(user), UserModule)


def test_non_nets_are_refused(small_data):
    X, y = small_data
    assert not is_net(LogisticRegression())
    with pytest.raises(TypeError, match="holds no torch net"):
        get_net(LogisticRegression().fit(X, y))
    with pytest.raises(NotFittedError):
        get_net(MLPNetClassifier())


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="Unknown device"):
        resolve_device("tpu9")


def test_tensor_loader_slices_and_falls_back():
    from skorch.dataset import Dataset

    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    batches = list(TensorLoader(Dataset(X, y), batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(torch.cat([b[1] for b in batches]).numpy(), y)
    sub = torch.utils.data.Subset(Dataset(X, y), [7, 1])
    (xb, yb), = list(TensorLoader(sub, batch_size=8))
    np.testing.assert_array_equal(yb.numpy(), [7, 1])
    fallback = TensorLoader(torch.utils.data.TensorDataset(torch.as_tensor(X)), batch_size=5)
    assert len(list(fallback)) == 2
