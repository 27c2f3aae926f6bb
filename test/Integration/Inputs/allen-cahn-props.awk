# Properties of a physc-allen-cahn-ref CSV (x,t,u; x from -1 to 1 in each t
# row), for test/Integration/allen-cahn-ref.test. Run with awk -F,.
function abs(v) { return v < 0 ? -v : v }
NR == 1 { next }
{
  rows++
  x = $1; t = $2; u = $3
  if (t == 0) {
    e = abs(u - x * x * cos(atan2(0, -1) * x))
    if (e > icerr) icerr = e
  }
  if (u < -1.01 || u > 1.01) range = "FAILED"
  if (t == 1 && u < lo) lo = u
  if (t == 1 && u > hi) hi = u
  val[t "," x] = u
  ts[t] = 1
}
END {
  periodic = even = "ok"
  for (t in ts) {
    if (abs(val[t ",-1"] - val[t ",1"]) > 1e-12) periodic = "FAILED"
    for (k in val) {
      split(k, p, ",")
      if (p[1] != t) continue
      m = -p[2]
      if (!((t "," m) in val) || abs(val[k] - val[t "," m]) > 1e-12) even = "FAILED"
    }
  }
  if (!(lo < -0.999 && hi > 0.98)) plat = "FAILED"
  print "rows", rows, "ic-max-err", icerr, "ic", (icerr <= 1e-9 ? "ok" : "FAILED"), \
        "periodic", periodic, "even", even, "range", (range ? range : "ok"), \
        "plateaus", (plat ? plat : "ok")
}
