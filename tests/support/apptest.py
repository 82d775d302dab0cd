"""Reading what Streamlit's AppTest rendered."""

from __future__ import annotations

import base64
import json

import numpy as np
from streamlit.testing.v1 import AppTest


def figure(at: AppTest, index: int = 0) -> dict:
    """The ``index``-th plotly figure as plain lists (plotly encodes numeric arrays as base64
    typed arrays)."""
    return _plain(json.loads(at.get("plotly_chart")[index].proto.spec))


def _plain(value):
    if isinstance(value, dict) and set(value) >= {"dtype", "bdata"}:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
