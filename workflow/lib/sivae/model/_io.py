"""Save and load models: safetensors weights + JSON hyper-parameters and metadata."""

import json
import logging
import os

import anndata as ad
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from ._base import SETUP_KEY, _check_adata, _matrix, transform_from_config

logger = logging.getLogger(__name__)

WEIGHTS, CONFIG, HISTORY = "model.safetensors", "config.json", "history.tsv"


def save_model(model, path: str, overwrite: bool = True) -> None:
    """Write ``model`` to the directory ``path`` (created if needed)."""
    path = os.fspath(path)
    if os.path.exists(os.path.join(path, WEIGHTS)) and not overwrite:
        raise ValueError(f"{path} already holds a saved model and overwrite=False")
    os.makedirs(path, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.module.state_dict().items()}
    save_file(state, os.path.join(path, WEIGHTS))
    config = {
        "class": type(model).__name__,
        "params": model.params,
        "registry": model.registry,
        "var_names": model.var_names,
        "transform": {
            "mean": model.transform.mean.tolist(),
            "std": model.transform.std.tolist(),
            "log1p": model.transform.log1p,
        },
        "covariate_info": model.covariate_info,
        "library_stats": model.library_stats,
        "n_feature_input": int(model.module.feature_input.shape[1]) if model._feature_side else 0,
        "is_trained": model.is_trained,
    }
    with open(os.path.join(path, CONFIG), "w") as fh:
        json.dump(config, fh, indent=1)
    model.history.to_csv(os.path.join(path, HISTORY), sep="\t", index=False)


def load_model(cls, path: str, adata: ad.AnnData, device: str = "cpu"):
    """Rebuild a ``cls`` model saved at ``path`` on ``adata`` (same genes required)."""
    path = os.fspath(path)
    for name in (WEIGHTS, CONFIG):
        if not os.path.exists(os.path.join(path, name)):
            raise FileNotFoundError(
                f"{os.path.join(path, name)} not found: not a saved sivae model"
            )
    with open(os.path.join(path, CONFIG)) as fh:
        config = json.load(fh)
    if config["class"] != cls.__name__:
        raise ValueError(f"{path} holds a {config['class']} model, not a {cls.__name__}")
    _check_adata(adata)
    names = adata.var_names.astype(str).tolist()
    if names != config["var_names"]:
        missing = sorted(set(config["var_names"]) - set(names))[:5]
        raise ValueError(
            f"AnnData genes do not match the saved model's {len(config['var_names'])} genes "
            f"(AnnData has {len(names)}; missing e.g. {missing}); subset/reorder adata first"
        )
    model = cls.__new__(cls)
    model.adata = adata
    model.registry = config["registry"]
    _matrix(adata, model.registry["layer"])  # the layer must exist
    adata.uns[SETUP_KEY] = dict(model.registry)
    model.params = config["params"]
    model.var_names = config["var_names"]
    model.transform = transform_from_config(config["transform"])
    model.covariate_info = config["covariate_info"]
    model.library_stats = config["library_stats"]
    model.module = model._build_module(config["n_feature_input"])
    model.module.load_state_dict(load_file(os.path.join(path, WEIGHTS)))
    model.device = torch.device(device)
    model.module.to(model.device).eval()
    history = os.path.join(path, HISTORY)
    model.history = (
        pd.read_csv(history, sep="\t") if os.path.getsize(history) > 1 else pd.DataFrame()
    )
    model.is_trained = config["is_trained"]
    return model
