"""Raw records in, predictions out: the one path `dlrun predict`, `dlrun serve` and exported models share.

    Predictor(run, forward=None, prefer="final")
        .encode(records) -> tuple[np.ndarray, ...]   the model's inputs, preprocessed exactly as in training
        .forward(*arrays) -> np.ndarray              class probabilities ((n,) of class 1 when binary) or values
                                                     in the data's units: the same numbers as task.predictions
        .decode(values) -> list[dict]                predicted_<target> and probability_<class> per record
        .predict(records) -> list[dict]              the three in a row
        .schema() -> dict                            what a record is (columns, window, image size...)

A record depends on what the run trained on (`Predictor.input.kind`):

    table   {column: value}; a missing or None value takes the training median (or its own level)
    text    a string (tagging: a sentence, words split on spaces, or a list of words)
    series  a window: `window` numbers, or `window` rows of one number per column (value column first)
    image   encoded image bytes (PNG, JPEG...) or an array (H, W), (H, W, C) or (C, H, W) of 0-255 values
    array   a list of numbers (the flattened input of scikit-learn's sets: digits, iris...)

A record that cannot be encoded raises `DataError` naming the record or column and the problem.
`forward` may come from outside (`dlrun.export.OnnxForward(path)`): any callable taking the arrays of
`encode` and returning what the torch path returns.
"""

from __future__ import annotations

from dlrun.inference.predictor import Predictor, TorchForward

__all__ = ["Predictor", "TorchForward"]
