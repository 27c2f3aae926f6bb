#!/usr/bin/env python3
"""Writes heat_inverse_obs.csv: noisy observations for heat_inverse.phys.

u(x, t) = sin(pi x) exp(-kappa pi^2 t) solves u_t = kappa u_xx on
[0, 1] x [0, 1] with u(x, 0) = sin(pi x), u(0, t) = u(1, t) = 0. We observe
it at 256 uniformly random points with kappa = 0.1 and add Gaussian noise
of standard deviation 1% of the RMS of the clean values ("1% noise").
Deterministic (seed 20261128), standard library only.

    python3 examples/make_heat_inverse_obs.py > examples/heat_inverse_obs.csv
"""
import math
import random

KAPPA = 0.1
POINTS = 256
NOISE = 0.01

rng = random.Random(20261128)
rows = []
for _ in range(POINTS):
    x, t = rng.random(), rng.random()
    rows.append((x, t, math.sin(math.pi * x) * math.exp(-KAPPA * math.pi**2 * t)))
rms = math.sqrt(sum(u * u for _, _, u in rows) / len(rows))
print("# heat_inverse observations: kappa = %g, noise sd = %g (%g%% of RMS %.6f)"
      % (KAPPA, NOISE * rms, 100 * NOISE, rms))
print("x,t,u")
for x, t, u in rows:
    print("%.17g,%.17g,%.17g" % (x, t, u + rng.gauss(0.0, NOISE * rms)))
