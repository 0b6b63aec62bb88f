"""The founding program, line for line, in minirnn.

The Keras original (from the founding article):

    np.random.seed(1)
    data = np.random.randn(n_samples, n_timesteps, n_features)
    model = Sequential()
    model.add(LSTM(50, activation='relu', input_shape=(n_timesteps, n_features)))
    model.add(Dropout(0.2))
    model.add(Dense(1))
    model.compile(optimizer='adam', loss='mse')
    model.fit(data, data, epochs=100, verbose=0)
    predictions = model.predict(data)

The only change: randomness comes from a seeded ``numpy.random.Generator`` instead of the global
``np.random.seed``. Note what this program learns: the targets ``data`` (1000, 10, 1) are compared
with predictions (1000, 1) by broadcasting (Keras's rule), so the model learns each window's mean;
minirnn computes exactly Keras's loss and warns once about it.

Expected: the loss falls from about 1.0 towards 0.9 (the variance left once each window's mean,
which has variance 1/10, is explained) and predictions have shape (1000, 1).
Run: python examples/seed_example.py [--epochs N] [--quick]   (--quick: 2 epochs on 200 samples, seconds)
"""

import argparse
import time

import numpy as np

from minirnn import Sequential
from minirnn.layers import LSTM, Dense, Dropout

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=100)
parser.add_argument("--verbose", type=int, default=0)
parser.add_argument("--quick", action="store_true", help="2 epochs on 200 samples (seconds), for the tests")
args = parser.parse_args()
if args.quick:
    args.epochs = min(args.epochs, 2)

# generate random time-series data
rng = np.random.default_rng(1)
n_samples = 200 if args.quick else 1000
n_timesteps = 10
n_features = 1
data = rng.standard_normal((n_samples, n_timesteps, n_features))

# build the RNN model
model = Sequential()
model.add(LSTM(50, activation='relu', input_shape=(n_timesteps, n_features), seed=1))
model.add(Dropout(0.2))
model.add(Dense(1, seed=1))
model.compile(optimizer='adam', loss='mse')

# train the model
start = time.perf_counter()
history = model.fit(data, data, epochs=args.epochs, verbose=args.verbose, seed=1)
fit_seconds = time.perf_counter() - start

# predict
predictions = model.predict(data)

losses = history.history["loss"]
print(f"epochs: {len(losses)}  first loss: {losses[0]:.4f}  last loss: {losses[-1]:.4f}  "
      f"fit time: {fit_seconds:.1f} s")
print(f"predictions: shape {predictions.shape}, dtype {predictions.dtype}")
window_means = data.mean(axis=1)
print(f"correlation of predictions with each window's mean: "
      f"{np.corrcoef(predictions[:, 0], window_means[:, 0])[0, 1]:.3f}")
