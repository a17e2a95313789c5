"""Text: the tokens that pushed each prediction, and the most influential tokens per predicted class.

Sequence models are explained on their token embedding (one attribution per position: the sum over the
embedding's width); multi-hot models on their word columns (one attribution per word present).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from dlrun.datasets.vocabulary import OOV, PAD

TOP = 5  # tokens named per example in tokens.md
PER_CLASS = 10  # tokens per class in class_tokens.csv


def example_tokens(result, prep: dict) -> list[list[tuple[int, str, float]]]:
    """Per example: (position, token, attribution) of each real token (word column present), in text order."""
    words = prep["words"]
    x = result.inputs.detach().cpu().numpy()
    attributions = result.attributions.detach().double().cpu().numpy()
    if attributions.ndim == 3:  # on the embedding: (n, steps, width)
        attributions = attributions.sum(axis=-1)
    out = []
    for row, weights in zip(x, attributions, strict=True):
        if prep["encoding"] == "multi_hot":
            present = np.flatnonzero(row)
            out.append([(int(i), words[i], float(weights[i])) for i in present])
        else:
            name = lambda t: "<unk>" if t == OOV else words[t - 2]  # noqa: E731
            out.append([(p, name(int(t)), float(weights[p])) for p, t in enumerate(row) if t != PAD])
    return out


def write_text_explanation(result, info, prep: dict) -> None:
    from dlrun.rundir import (
        EXPLAIN_CLASS_TOKENS_FILE,
        EXPLAIN_TOKENS_FILE,
        EXPLAIN_TOKENS_MD_FILE,
        write_csv,
        write_text,
    )

    names = list(info.class_names)
    tokens = example_tokens(result, prep)
    targets = result.targets.cpu().numpy()
    rows, lines = [], [f"# {result.method} on {result.split}: tokens that pushed each prediction\n"]
    lines += ["| # | true | predicted | explained | top tokens (attribution) |", "|---|---|---|---|---|"]
    per_class: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for i, found in enumerate(tokens):
        true, pred, explained = names[int(result.labels[i])], names[int(result.predicted[i])], names[int(targets[i])]
        for position, token, value in found:
            rows.append(
                {
                    "example": i,
                    "true": true,
                    "predicted": pred,
                    "explained": explained,
                    "position": position,
                    "token": token,
                    "attribution": f"{value:.6g}",
                }
            )
            per_class[int(targets[i])][token].append(value)
        top = sorted(found, key=lambda t: -t[2])[:TOP]
        shown = ", ".join(f"**{token}** ({value:+.3g})" for _, token, value in top)
        lines.append(f"| {i} | {true} | {pred} | {explained} | {shown} |")
    header = ["example", "true", "predicted", "explained", "position", "token", "attribution"]
    write_csv(result.folder / EXPLAIN_TOKENS_FILE, rows, header)
    write_text(result.folder / EXPLAIN_TOKENS_MD_FILE, "\n".join(lines) + "\n")

    class_rows = []
    for c in sorted(per_class):
        mean = {token: float(np.mean(v)) for token, v in per_class[c].items()}
        ranked = sorted(mean, key=lambda t: -mean[t])[:PER_CLASS]
        result.rankings[f"tokens for {names[c]}"] = [(t, mean[t]) for t in ranked]
        class_rows += [
            {
                "class": names[c],
                "rank": r + 1,
                "token": t,
                "mean_attribution": f"{mean[t]:.6g}",
                "count": len(per_class[c][t]),
            }
            for r, t in enumerate(ranked)
        ]
    write_csv(
        result.folder / EXPLAIN_CLASS_TOKENS_FILE, class_rows, ["class", "rank", "token", "mean_attribution", "count"]
    )
    result.extra["tokens"] = tokens
    result.files += [
        result.folder / f for f in (EXPLAIN_TOKENS_FILE, EXPLAIN_TOKENS_MD_FILE, EXPLAIN_CLASS_TOKENS_FILE)
    ]
