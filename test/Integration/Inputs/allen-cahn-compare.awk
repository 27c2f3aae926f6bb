# Compares the rows of a second x,t,u CSV with the rows of the first that have
# the same x and t (as written); prints the count and ok, or FAILED with the
# largest difference above -v tol. Run with awk -F,.
function abs(v) { return v < 0 ? -v : v }
FNR == 1 { next }
NR == FNR { ref[$1 "," $2] = $3; next }
{
  n++
  k = $1 "," $2
  if (!(k in ref)) { missing++; next }
  d = abs($3 - ref[k])
  if (d > worst) { worst = d; at = k }
}
END {
  if (missing || worst > tol)
    print "compared", n, "rows: FAILED (missing", missing + 0, "largest", worst, "at", at ")"
  else
    print "compared", n, "rows: ok"
}
