"""A character-level language model on the first chapters of "Alice's Adventures in Wonderland".

The text (examples/data/, public domain) is cut into sequences of 64 characters; at every position the model
reads one character (one-hot, V = 65 symbols) and predicts the next:

    h_t = LSTM(x_t, h_{t-1}, c_{t-1})                 (return_sequences=True: one h per position)
    p(next char) = softmax(h_t @ W + b)               (Dense(V) on every step, logits)
    loss = mean over positions of -log p(true next char)
         (CategoricalCrossentropy(from_logits=True), in nats; reported in bits per character)

Then it writes new text: prime the LSTM's state with a text, and repeatedly sample the next character from
softmax(logits / temperature), feeding each sample back in and carrying (h, c) from step to step. A low
temperature picks the likely characters (repetitive); a high one invents more (and misspells more).

Expected result (defaults: 15 epochs, about 3 minutes on an idle 2-core machine, much longer on a busy one).
Measured with seed 0: the held-out loss falls from the 6.02 bits per character of knowing nothing (log2 65),
past the 4.39 bits of the single-character frequencies, to 2.78 bits (still falling: more epochs or units
help). Samples at temperature 0.3 are runs of frequent words ("the was and the down wish the ..."); at 0.6
English-looking words and punctuation with many misspellings ("she to got in thing poon now lonking to
sould she a door"); at 1.0 mostly invented words. Spelling, not sense, is what such a model learns first.

    python examples/char_rnn.py                       # train, then sample at three temperatures
    python examples/char_rnn.py --prime "Alice said" --temperature 0.8
    python examples/char_rnn.py --quick               # a few seconds: checks the script runs, proves nothing
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from minirnn import Sequential, datasets
from minirnn.layers import LSTM, Dense
from minirnn.losses import CategoricalCrossentropy
from minirnn.optimizers import Adam

TEXT = Path(__file__).resolve().parent / "data" / "alice_in_wonderland_ch1-4.txt"


def read_text(path: Path = TEXT) -> str:
    """The text without its provenance header (the leading lines that start with '#')."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    k = 0
    while k < len(lines) and lines[k].startswith("#"):
        k += 1
    return "".join(lines[k:])


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log softmax over the last axis (for sampling), shifted by the maximum so that exp never overflows."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def sample(model: Sequential, vocab: str, prime: str, length: int, temperature: float,
           rng: np.random.Generator) -> str:
    """Prime the LSTM with ``prime``, then draw ``length`` characters one at a time, carrying (h, c)."""
    lstm, dense = model.layers
    index = {ch: k for k, ch in enumerate(vocab)}
    # the same weights in a layer that also returns its final states, so each call continues the last
    stepper = LSTM(lstm.units, return_sequences=True, return_state=True)
    stepper.build((None, len(vocab)))
    stepper.set_weights(lstm.get_weights())
    known = [index[ch] for ch in prime if ch in index] or [index[" "]]
    x = datasets.one_hot(np.array([known]), len(vocab))
    out, h, c = stepper(x)
    chars = []
    for _ in range(length):
        p = np.exp(log_softmax(dense(out[:, -1]).astype(np.float64)[0] / temperature))
        k = int(rng.choice(len(vocab), p=p / p.sum()))
        chars.append(vocab[k])
        out, h, c = stepper(datasets.one_hot(np.array([[k]]), len(vocab)), initial_state=[h, c])
    return prime + "".join(chars)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a tiny run (seconds) that only checks the script works")
    p.add_argument("--units", type=int, default=128)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--prime", default="Alice ", help="text that starts the samples")
    p.add_argument("--temperature", type=float, action="append",
                   help="sampling temperature (repeatable; default 0.3, 0.6 and 1.0)")
    p.add_argument("--length", type=int, default=300, help="characters to sample")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    temperatures = args.temperature or [0.3, 0.6, 1.0]
    text = read_text()
    if args.quick:
        text, args.units, args.seq_len, args.epochs, args.length = text[:3000], 8, 16, 1, 40

    start = time.perf_counter()
    vocab = "".join(sorted(set(text)))
    V = len(vocab)
    tokens = np.array([vocab.index(ch) for ch in text])
    split = int(0.9 * len(tokens))              # the last 10% is held out, never trained on
    T = args.seq_len

    def sequences(tok: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
        starts = np.arange(0, len(tok) - T - 1, stride)
        idx = starts[:, None] + np.arange(T + 1)
        return datasets.one_hot(tok[idx[:, :-1]], V), datasets.one_hot(tok[idx[:, 1:]], V)

    x_train, y_train = sequences(tokens[:split], T // 2)
    x_val, y_val = sequences(tokens[split:], T)
    freq = np.bincount(tokens[:split], minlength=V) / split
    unigram_bits = float(-(np.bincount(tokens[split:], minlength=V) / (len(tokens) - split)
                           * np.log2(np.where(freq > 0, freq, 1e-12))).sum())
    print(f"text: {len(text)} characters, {V} symbols; {len(x_train)} training sequences of {T}, "
          f"{len(x_val)} held out")
    print(f"baselines (held out): uniform {math.log2(V):.2f} bits/char, character frequencies {unigram_bits:.2f}")

    model = Sequential([LSTM(args.units, return_sequences=True, input_shape=(T, V), seed=args.seed),
                        Dense(V, seed=args.seed + 1)])
    model.compile(optimizer=Adam(learning_rate=3e-3, clipnorm=5.0), loss=CategoricalCrossentropy(from_logits=True))
    bits = 1 / math.log(2)

    def report(epoch: int, logs: dict) -> None:
        val = model.evaluate(x_val, y_val, batch_size=256)
        print(f"epoch {epoch + 1:3d}/{args.epochs}: train {logs['loss'] * bits:.3f} bits/char, "
              f"held out {val * bits:.3f} bits/char  ({time.perf_counter() - start:.0f} s)", flush=True)

    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch, verbose=0, seed=args.seed,
              callbacks=[report])

    rng = np.random.default_rng(args.seed)
    for temperature in temperatures:
        print(f"\n--- temperature {temperature}, primed with {args.prime!r} ---")
        print(sample(model, vocab, args.prime, args.length, temperature, rng))
    print(f"\ndone in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
