# For train-allen-cahn-short.test: a physc eval CSV (x,t,u) at t = 0 and
# x = +-1. Checks u(x, 0) = x^2 cos(pi x) and u(-1, t) = u(1, t) within 1e-6.
function abs(v) { return v < 0 ? -v : v }
NR == 1 { next }
$2 == 0 {
  n++
  e = abs($3 - $1 * $1 * cos(atan2(0, -1) * $1))
  if (e > icerr) icerr = e
}
$1 == -1 { left[$2] = $3 }
$1 == 1 { right[$2] = $3 }
END {
  for (t in left) {
    m++
    d = (t in right) ? abs(left[t] - right[t]) : 1
    if (d > perr) perr = d
  }
  print "ic", n, "rows max-err", icerr + 0, (icerr <= 1e-6 ? "ok;" : "FAILED;"), \
        "periodic", m, "times max-diff", perr + 0, (perr <= 1e-6 ? "ok" : "FAILED")
}
