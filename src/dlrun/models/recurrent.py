"""Recurrent networks (`lstm`, `gru`) for token sequences and numeric series.

Input: token ids (an embedding turns each into a vector; id 0 is padding) or numeric windows of
shape (steps, features) (fed as they are, or through a linear projection). Token batches are packed
(`pack_padded_sequence`) with each text's length, the count of its non-padding ids (padding only
ever follows the last word), so padding never reaches the recurrent layers: a padded text gives
exactly the output of the same text alone.

Output, by `pooling`: `last` (the final hidden state of the last layer, both directions when
bidirectional), `mean` (the mean of the top layer's outputs over the real steps), or `per_step`
(one output per step: a sequence-tagging head).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from dlrun.datasets.base import DataInfo
from dlrun.datasets.vocabulary import PAD
from dlrun.errors import ConfigError

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentNet(nn.Module):
    def __init__(
        self,
        cell: str,
        out_features: int,
        hidden: int,
        layers: int,
        bidirectional: bool,
        dropout: float,
        pooling: str,
        vocab_size: int = 0,
        embedding_dim: int = 0,
        in_features: int = 0,
        projection: int | None = None,
    ):
        super().__init__()
        self.pooling = pooling
        if vocab_size:
            self.inputs: nn.Module = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
            width = embedding_dim
        elif projection:
            self.inputs, width = nn.Linear(in_features, projection), projection
        else:
            self.inputs, width = nn.Identity(), in_features
        self.tokens = bool(vocab_size)
        self.rnn = CELLS[cell](
            width,
            hidden,
            num_layers=layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.tokens:  # numeric windows: every step is real
            out, state = self.rnn(self.inputs(x))
            return self.head(self.dropout(self._pool(out, state, None)))
        steps = x.shape[1]
        lengths = (x != PAD).sum(dim=1).clamp(min=1)  # an empty text still has one (padding) step
        packed = pack_padded_sequence(self.inputs(x.long()), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        out = pad_packed_sequence(out, batch_first=True, total_length=steps)[0] if self.pooling != "last" else None
        return self.head(self.dropout(self._pool(out, state, lengths)))

    def _pool(self, out, state, lengths) -> torch.Tensor:
        if self.pooling == "per_step":
            return out
        if self.pooling == "mean":
            if lengths is None:
                return out.mean(dim=1)
            mask = (torch.arange(out.shape[1], device=out.device)[None, :] < lengths[:, None]).unsqueeze(-1)
            return (out * mask).sum(dim=1) / lengths[:, None].to(out.dtype)
        hidden = state[0] if isinstance(state, tuple) else state  # LSTM: (h, c); GRU: h
        directions = 2 if self.rnn.bidirectional else 1
        return torch.cat(list(hidden[-directions:]), dim=-1)  # the top layer's final state, each direction


def recurrent(
    cell: str,
    info: DataInfo,
    hidden: int,
    layers: int,
    bidirectional: bool,
    dropout: float,
    pooling: str,
    embedding_dim: int,
    projection: int | None,
) -> nn.Module:
    where = f"model ({cell})"
    if info.per_step and pooling != "per_step":
        raise ConfigError("per-step labels (dataset=tagged_text) need one output per step: set model.pooling=per_step")
    if pooling == "per_step" and not info.per_step:
        raise ConfigError(
            "model.pooling=per_step gives one output per step: it needs per-step labels "
            "(dataset=tagged_text, task=tagging)"
        )
    if info.vocab_size:
        if len(info.input_shape) != 1:
            raise ConfigError(f"{where} expects token ids of shape (steps,), got {info.input_shape}")
        return RecurrentNet(
            cell,
            info.output_size,
            hidden,
            layers,
            bidirectional,
            dropout,
            pooling,
            vocab_size=info.vocab_size,
            embedding_dim=embedding_dim,
        )
    if len(info.input_shape) != 2:
        raise ConfigError(
            f"{where} reads sequences: token ids (a text data set with dataset.encoding=sequence) or "
            f"windows of shape (steps, features) (timeseries_csv); this data set gives {info.input_shape}"
        )
    return RecurrentNet(
        cell,
        info.output_size,
        hidden,
        layers,
        bidirectional,
        dropout,
        pooling,
        in_features=info.input_shape[1],
        projection=projection,
    )


def lstm(info: DataInfo, hidden, layers, bidirectional, dropout, pooling, embedding_dim, projection) -> nn.Module:
    """LSTM over token ids (embedding) or numeric windows (optional linear projection), then a linear head."""
    return recurrent("lstm", info, hidden, layers, bidirectional, dropout, pooling, embedding_dim, projection)


def gru(info: DataInfo, hidden, layers, bidirectional, dropout, pooling, embedding_dim, projection) -> nn.Module:
    """GRU over token ids (embedding) or numeric windows (optional linear projection), then a linear head."""
    return recurrent("gru", info, hidden, layers, bidirectional, dropout, pooling, embedding_dim, projection)
