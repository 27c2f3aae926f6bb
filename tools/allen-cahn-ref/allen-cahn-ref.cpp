//===- allen-cahn-ref.cpp - ETDRK4 reference solution of Allen-Cahn ------===//
//
// Part of physc. physc-allen-cahn-ref solves the Allen-Cahn benchmark of the
// PINN literature (Raissi et al. 2019; Wang, Sankaran & Perdikaris,
// "Respecting causality", 2022/2024; jaxpi examples/allen_cahn)
//
//   u_t - 1e-4 u_xx + 5 u^3 - 5 u = 0,  x in [-1, 1], t in [0, 1],
//   u(x, 0) = x^2 cos(pi x),            u periodic in x,
//
// and writes it on a uniform grid as the CSV that
// `exact u = file("allen_cahn_ref.csv")` reads.
//
// Method: Fourier pseudo-spectral in x (N modes, radix-2 FFT written here),
// ETDRK4 in time (Cox & Matthews, J. Comput. Phys. 176 (2002) 430-455) with
// the phi-functions evaluated by the contour integrals of Kassam & Trefethen
// (SIAM J. Sci. Comput. 26 (2005) 1214-1233). The split is the one of
// Chebfun's spin that produced the jaxpi reference data:
//   linear    L u = 5 u + 1e-4 u_xx   (diagonal in Fourier space),
//   nonlinear N(u) = -5 u^3           (evaluated on the grid).
//
// The initial data are the exact Fourier coefficients of x^2 cos(pi x) (its
// L2 projection), not an FFT of samples: the periodic extension has a corner
// at x = +-1 (u_x jumps from -2 to 2), so samples would alias its slowly
// decaying 1/m^2 tail into every mode. The t = 0 row of the output is the
// initial condition evaluated exactly.
//
// Like physc-burgers-ref, the tool links neither LLVM nor MLIR: it is a
// numerical reference, independent of the compiler it checks.
//
//===----------------------------------------------------------------------===//

#include "physc/RefTool.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using Complex = std::complex<double>;

constexpr double Pi = 3.14159265358979323846;

/// The benchmark's coefficients: u_t = Diffusion u_xx + Reaction (u - u^3).
constexpr double Diffusion = 1e-4;
constexpr double Reaction = 5.0;

/// Defaults, chosen by the convergence study in docs/references.md: with
/// N = 2048 and dt = 1e-4 the solution agrees with (4096, 5e-5) to 4.8e-10.
constexpr int DefaultModes = 2048;
constexpr double DefaultDt = 1e-4;

/// Tolerance of --check: the largest |u(N, dt) - u(2N, dt/2)| allowed.
constexpr double DefaultCheckTolerance = 1e-6;

/// Points on the circle of the Kassam-Trefethen contour integrals.
constexpr int ContourPoints = 64;

/// cos(pi y) with exact argument reduction: exactly -1 at y = +-1 and exactly
/// 0 at y = +-1/2, where std::cos(pi * y) is off by roundoff.
double cosPi(double Y) {
  double A = std::fabs(std::remainder(Y, 2.0)); // Exact; A in [0, 1].
  if (A > 0.5)
    return -std::sin(Pi * (A - 0.5));
  return std::sin(Pi * (0.5 - A));
}

/// The initial condition.
double initial(double X) { return X * X * cosPi(X); }

/// In-place radix-2 complex FFT of length N (a power of two):
/// X_k = sum_j x_j exp(-+2 pi i jk / N) for Inverse false/true (unscaled).
class FFT {
public:
  explicit FFT(int Size) : N(Size), Twiddle(Size / 2), Rev(Size) {
    for (int K = 0; K < N / 2; ++K) {
      // exp(-2 pi i K / N) from the reduced angle, so that the quarter-turn
      // values are exact.
      double Y = 2.0 * K / N;
      Twiddle[K] = Complex(cosPi(Y), -cosPi(Y - 0.5));
    }
    int Bits = 0;
    while ((1 << Bits) < N)
      ++Bits;
    for (int I = 0; I < N; ++I) {
      int R = 0;
      for (int B = 0; B < Bits; ++B)
        if (I & (1 << B))
          R |= 1 << (Bits - 1 - B);
      Rev[I] = R;
    }
  }

  void run(std::vector<Complex> &A, bool Inverse) const {
    for (int I = 0; I < N; ++I)
      if (I < Rev[I])
        std::swap(A[I], A[Rev[I]]);
    for (int Len = 2; Len <= N; Len <<= 1) {
      int Half = Len / 2, Stride = N / Len;
      for (int S = 0; S < N; S += Len)
        for (int K = 0; K < Half; ++K) {
          Complex W = Twiddle[K * Stride];
          if (Inverse)
            W = std::conj(W);
          Complex Odd = W * A[S + K + Half];
          A[S + K + Half] = A[S + K] - Odd;
          A[S + K] += Odd;
        }
    }
  }

private:
  int N;
  std::vector<Complex> Twiddle;
  std::vector<int> Rev;
};

/// Integer wavenumber m of FFT index I (domain length 2: k = pi m). The
/// Nyquist mode is kept with m = N/2; only -k^2 acts on it, which is even.
int waveNumber(int I, int N) { return I <= N / 2 ? I : I - N; }

/// Exact Fourier coefficient c_m of x^2 cos(pi x) on [-1, 1]:
/// u0(x) = sum_m c_m exp(i pi m x), c_m = (g(m + 1) + g(m - 1)) / 2 with
/// g(n) = int_0^1 x^2 cos(pi n x) dx = 2 (-1)^n / (pi n)^2, g(0) = 1/3.
double initialCoefficient(int M) {
  auto G = [](int Nn) {
    if (Nn == 0)
      return 1.0 / 3.0;
    double S = (Nn % 2 == 0) ? 2.0 : -2.0;
    return S / (Pi * Pi * double(Nn) * double(Nn));
  };
  return 0.5 * (G(M + 1) + G(M - 1));
}

/// The uniform output grid, endpoints included.
struct Grid {
  int Nx = 257;
  int Nt = 101;
  /// (2I - (Nx - 1)) / (Nx - 1): exactly symmetric, x(Nx - 1 - I) == -x(I).
  double x(int I) const { return double(2 * I - (Nx - 1)) / (Nx - 1); }
  double t(int J) const { return J == Nt - 1 ? 1.0 : double(J) / (Nt - 1); }
};

/// The solution on the output grid: U[J * Nx + I] = u(x_I, t_J).
struct Solution {
  std::vector<double> U;
  int Steps = 0;     // Time steps taken in all.
  double Step = 0;   // Their length.
  double MaxAbs = 0; // Largest |u| on the solver grid over all steps.
};

/// ETDRK4 for v' = L v + N(v) in Fourier space with diagonal L.
class Solver {
public:
  Solver(int Modes, double MaxDt, const Grid &Out)
      : N(Modes), G(Out), Transform(Modes) {
    // Equal steps no longer than MaxDt that land on every output time.
    double Interval = 1.0 / (G.Nt - 1);
    StepsPerOutput = std::max(1, int(std::ceil(Interval / MaxDt - 1e-9)));
    H = Interval / StepsPerOutput;
    E.resize(N);
    E2.resize(N);
    Q.resize(N);
    F1.resize(N);
    F2.resize(N);
    F3.resize(N);
    for (int I = 0; I < N; ++I) {
      double K = Pi * waveNumber(I, N);
      double Z = H * (Reaction - Diffusion * K * K); // h L_k.
      E[I] = std::exp(Z);
      E2[I] = std::exp(Z / 2);
      // Kassam-Trefethen: average the phi-function formulas over a circle of
      // radius 1 around Z, which avoids their cancellation near Z = 0.
      Complex SQ = 0, S1 = 0, S2 = 0, S3 = 0;
      for (int P = 0; P < ContourPoints; ++P) {
        double Theta = 2.0 * (P + 0.5) / ContourPoints; // In units of pi.
        Complex R = Z + Complex(cosPi(Theta), cosPi(Theta - 0.5));
        Complex ER = std::exp(R), R3 = R * R * R;
        SQ += (std::exp(R / 2.0) - 1.0) / R;
        S1 += (-4.0 - R + ER * (4.0 - 3.0 * R + R * R)) / R3;
        S2 += (2.0 + R + ER * (R - 2.0)) / R3;
        S3 += (-4.0 - 3.0 * R - R * R + ER * (4.0 - R)) / R3;
      }
      Q[I] = H * (SQ / double(ContourPoints)).real();
      F1[I] = H * (S1 / double(ContourPoints)).real();
      F2[I] = H * (S2 / double(ContourPoints)).real();
      F3[I] = H * (S3 / double(ContourPoints)).real();
    }
  }

  Solution solve() {
    Solution Out;
    Out.U.resize(size_t(G.Nx) * G.Nt);
    Out.Step = H;
    // Initial Fourier coefficients, normalised as the FFT of the values at
    // x_j = -1 + 2j/N: v_m = N (-1)^m c_m. The Nyquist mode is left out
    // (|m| < N/2), which keeps the truncation symmetric.
    std::vector<Complex> V(N), Nv(N), A(N), Na(N), B(N), Nb(N), C(N), Nc(N);
    for (int I = 0; I < N; ++I) {
      int M = waveNumber(I, N);
      double Sgn = (M % 2 == 0) ? 1.0 : -1.0;
      V[I] = M == N / 2 ? 0.0 : N * Sgn * initialCoefficient(M);
    }
    for (int I = 0; I < G.Nx; ++I)
      Out.U[I] = initial(G.x(I)) + 0.0;
    for (int J = 1; J < G.Nt; ++J) {
      for (int S = 0; S < StepsPerOutput; ++S) {
        nonlinear(V, Nv, Out.MaxAbs);
        for (int I = 0; I < N; ++I)
          A[I] = E2[I] * V[I] + Q[I] * Nv[I];
        nonlinear(A, Na, Out.MaxAbs);
        for (int I = 0; I < N; ++I)
          B[I] = E2[I] * V[I] + Q[I] * Na[I];
        nonlinear(B, Nb, Out.MaxAbs);
        for (int I = 0; I < N; ++I)
          C[I] = E2[I] * A[I] + Q[I] * (2.0 * Nb[I] - Nv[I]);
        nonlinear(C, Nc, Out.MaxAbs);
        for (int I = 0; I < N; ++I)
          V[I] = E[I] * V[I] + F1[I] * Nv[I] + 2.0 * F2[I] * (Na[I] + Nb[I]) +
                 F3[I] * Nc[I];
        ++Out.Steps;
      }
      sample(V, &Out.U[size_t(J) * G.Nx]);
    }
    return Out;
  }

private:
  /// Out = FFT(-5 u^3) with u = IFFT(In) / N; tracks max |u|.
  void nonlinear(const std::vector<Complex> &In, std::vector<Complex> &Out,
                 double &MaxAbs) {
    Work = In;
    Transform.run(Work, /*Inverse=*/true);
    for (int I = 0; I < N; ++I) {
      double U = Work[I].real() / N;
      MaxAbs = std::max(MaxAbs, std::fabs(U));
      Out[I] = -Reaction * U * U * U;
    }
    Transform.run(Out, /*Inverse=*/false);
  }

  /// u at the output x's. Where they are solver grid points (N a multiple of
  /// Nx - 1) the grid values are used; elsewhere the trigonometric
  /// interpolant is summed. x = 1 takes the value at x = -1, so the output
  /// is exactly periodic.
  void sample(const std::vector<Complex> &V, double *Row) {
    Work = V;
    Transform.run(Work, /*Inverse=*/true);
    int Cells = G.Nx - 1;
    for (int I = 0; I < Cells; ++I) {
      double U;
      if (N % Cells == 0) {
        U = Work[size_t(I) * (N / Cells)].real() / N;
      } else {
        // u(x) = Re sum_m v_m exp(i pi m (x + 1)) / N (v_m = N (-1)^m c_m);
        // the Nyquist term as a cosine.
        double X = G.x(I), Sum = 0;
        for (int K = 0; K < N; ++K) {
          int M = waveNumber(K, N);
          double Y = M * (X + 1.0);
          double Re = V[K].real(), Im = V[K].imag();
          if (M == N / 2)
            Sum += Re * cosPi(Y);
          else
            Sum += Re * cosPi(Y) - Im * cosPi(Y - 0.5);
        }
        U = Sum / N;
      }
      Row[I] = U + 0.0; // + 0.0 turns -0 into 0.
    }
    Row[Cells] = Row[0];
  }

  int N;
  Grid G;
  FFT Transform;
  int StepsPerOutput = 1;
  double H = 0;
  std::vector<double> E, E2, Q, F1, F2, F3;
  std::vector<Complex> Work;
};

struct Options {
  Grid G;
  int Modes = DefaultModes;
  double Dt = DefaultDt;
  double Tol = DefaultCheckTolerance;
  std::string Output;
  bool Check = false;
  bool Stats = false;
};

void printUsage(FILE *To) {
  std::fprintf(
      To,
      "usage: physc-allen-cahn-ref [options]\n"
      "Fourier/ETDRK4 solution of u_t - 1e-4 u_xx + 5 u^3 - 5 u = 0 on\n"
      "[-1,1]x[0,1], u(x,0) = x^2 cos(pi x), periodic in x.\n\n"
      "  --n N       Fourier modes, a power of two in [16, 65536] "
      "(default %d)\n"
      "  --dt H      largest time step, in (0, 0.1]; each output interval is\n"
      "              split into equal steps no longer than H (default %g)\n"
      "  --nx N      output points in x, endpoints included (default 257)\n"
      "  --nt M      output points in t, endpoints included (default 101)\n"
      "  -o FILE     write CSV 'x,t,u' to FILE ('-' = stdout)\n"
      "  --check     also solve with 2N modes and step H/2; exit 1 if the\n"
      "              largest difference on the output grid exceeds --tol\n"
      "  --tol T     tolerance of --check (default %g)\n"
      "  --stats     print per output time: min, max, u(0,t), u(1,t) and the\n"
      "              free energy int 1e-4/2 u_x^2 + 5/4 (u^2-1)^2 dx (trapezoid\n"
      "              on the output grid)\n"
      "  -h, --help  this text\n",
      DefaultModes, DefaultDt, DefaultCheckTolerance);
}

constexpr const char *Tool = "physc-allen-cahn-ref";

bool parseInt(const char *Opt, const char *Text, int Lo, int Hi, int &Out) {
  return physc::ref::parseInt(Tool, Opt, Text, Lo, Hi, Out);
}

/// Parses a number in (Lo, Hi]; reports and returns false otherwise.
bool parseReal(const char *Opt, const char *Text, double Lo, double Hi,
               double &Out) {
  errno = 0;
  char *End = nullptr;
  double V = std::strtod(Text, &End);
  if (errno || End == Text || *End != '\0' || !(V > Lo && V <= Hi)) {
    std::fprintf(stderr,
                 "physc-allen-cahn-ref: %s expects a number in (%g, %g], got "
                 "'%s'\n",
                 Opt, Lo, Hi, Text);
    return false;
  }
  Out = V;
  return true;
}

/// Returns 0 to continue, -1 to stop with status 0, or 1 on an error.
int parseArgs(int Argc, char **Argv, Options &Opts) {
  for (int I = 1; I < Argc; ++I) {
    const char *A = Argv[I];
    auto NeedValue = [&]() -> const char * {
      if (I + 1 >= Argc) {
        std::fprintf(stderr, "physc-allen-cahn-ref: %s expects a value\n", A);
        return nullptr;
      }
      return Argv[++I];
    };
    if (!std::strcmp(A, "-h") || !std::strcmp(A, "--help")) {
      printUsage(stdout);
      return -1;
    }
    if (!std::strcmp(A, "--n") || !std::strcmp(A, "--nx") ||
        !std::strcmp(A, "--nt")) {
      const char *V = NeedValue();
      if (!V)
        return 1;
      bool Ok = !std::strcmp(A, "--n")    ? parseInt(A, V, 16, 65536, Opts.Modes)
                : !std::strcmp(A, "--nx") ? parseInt(A, V, 2, 1 << 20, Opts.G.Nx)
                                          : parseInt(A, V, 2, 1 << 20, Opts.G.Nt);
      if (!Ok)
        return 1;
      if (!std::strcmp(A, "--n") && (Opts.Modes & (Opts.Modes - 1))) {
        std::fprintf(stderr,
                     "physc-allen-cahn-ref: --n expects a power of two, got "
                     "'%s'\n",
                     V);
        return 1;
      }
    } else if (!std::strcmp(A, "--dt") || !std::strcmp(A, "--tol")) {
      const char *V = NeedValue();
      if (!V)
        return 1;
      bool Ok = !std::strcmp(A, "--dt") ? parseReal(A, V, 0, 0.1, Opts.Dt)
                                        : parseReal(A, V, 0, 1e30, Opts.Tol);
      if (!Ok)
        return 1;
    } else if (!std::strcmp(A, "-o")) {
      const char *V = NeedValue();
      if (!V)
        return 1;
      if (!*V) {
        std::fprintf(stderr, "physc-allen-cahn-ref: -o expects a file name\n");
        return 1;
      }
      Opts.Output = V;
    } else if (!std::strcmp(A, "--check")) {
      Opts.Check = true;
    } else if (!std::strcmp(A, "--stats")) {
      Opts.Stats = true;
    } else {
      std::fprintf(stderr,
                   "physc-allen-cahn-ref: unknown option '%s' (see --help)\n",
                   A);
      return 1;
    }
  }
  if (Opts.Output.empty() && !Opts.Check && !Opts.Stats) {
    std::fprintf(stderr, "physc-allen-cahn-ref: nothing to do: give -o FILE, "
                         "--check or --stats (see --help)\n");
    return 1;
  }
  return 0;
}

/// The grid as CSV 'x,t,u' (physc::ref::writeGridCsvFile).
int writeOutput(const Options &Opts, const Solution &Sol) {
  const Grid &G = Opts.G;
  return physc::ref::writeGridCsvFile(Tool, Opts.Output, G, [&](int I, int J) {
    return Sol.U[size_t(J) * G.Nx + I];
  });
}

/// --check: the largest |u(N, dt) - u(2N, dt/2)| on the output grid. With
/// spectral accuracy in x and fourth order in t this difference is
/// essentially the error of the coarser solution.
int runCheck(const Options &Opts, const Solution &Sol) {
  Solution Fine = Solver(2 * Opts.Modes, Opts.Dt / 2, Opts.G).solve();
  double MaxDiff = 0, AtX = 0, AtT = 0;
  for (int J = 0; J < Opts.G.Nt; ++J)
    for (int I = 0; I < Opts.G.Nx; ++I) {
      size_t K = size_t(J) * Opts.G.Nx + I;
      double D = std::fabs(Sol.U[K] - Fine.U[K]);
      if (!(D <= MaxDiff)) { // Also catches NaN.
        MaxDiff = D;
        AtX = Opts.G.x(I);
        AtT = Opts.G.t(J);
      }
    }
  bool Ok = MaxDiff <= Opts.Tol;
  std::printf("check: n %d dt %.6g vs n %d dt %.6g on %dx%d grid: max |du| = "
              "%.3e at x = %.6g, t = %.6g (tolerance %g): %s\n",
              Opts.Modes, Sol.Step, 2 * Opts.Modes, Fine.Step, Opts.G.Nx,
              Opts.G.Nt, MaxDiff, AtX, AtT, Opts.Tol, Ok ? "ok" : "FAILED");
  return Ok ? 0 : 1;
}

/// --stats: a few numbers per output time to compare with published plots
/// (plateaus at +-1, where the interfaces are) and the free energy, which
/// the Allen-Cahn flow must not increase.
int runStats(const Options &Opts, const Solution &Sol) {
  const Grid &G = Opts.G;
  double Dx = 2.0 / (G.Nx - 1);
  std::printf("stats: n %d, %d steps of %.6g, max |u| on the solver grid "
              "%.12f\n",
              Opts.Modes, Sol.Steps, Sol.Step, Sol.MaxAbs);
  std::printf("stats: %8s %13s %13s %13s %13s %13s\n", "t", "min", "max",
              "u(0,t)", "u(1,t)", "energy");
  double Prev = INFINITY;
  bool Monotone = true;
  for (int J = 0; J < G.Nt; ++J) {
    const double *Row = &Sol.U[size_t(J) * G.Nx];
    double Lo = Row[0], Hi = Row[0], Energy = 0;
    for (int I = 0; I < G.Nx; ++I) {
      Lo = std::min(Lo, Row[I]);
      Hi = std::max(Hi, Row[I]);
      double W = (Row[I] * Row[I] - 1.0);
      double Pot = Reaction / 4.0 * W * W;
      Energy += (I == 0 || I == G.Nx - 1 ? 0.5 : 1.0) * Pot * Dx;
      if (I + 1 < G.Nx) {
        double Ux = (Row[I + 1] - Row[I]) / Dx;
        Energy += Diffusion / 2.0 * Ux * Ux * Dx;
      }
    }
    double U0 = G.Nx % 2 ? Row[G.Nx / 2] : NAN;
    if (Energy > Prev)
      Monotone = false;
    Prev = Energy;
    std::printf("stats: %8.4f %13.9f %13.9f %13.9f %13.9f %13.9f\n", G.t(J),
                Lo, Hi, U0, Row[G.Nx - 1], Energy);
  }
  std::printf("stats: energy non-increasing: %s\n", Monotone ? "yes" : "NO");
  return 0;
}

} // namespace

int main(int Argc, char **Argv) {
  Options Opts;
  if (int Rc = parseArgs(Argc, Argv, Opts))
    return Rc < 0 ? 0 : Rc;
  Solution Sol = Solver(Opts.Modes, Opts.Dt, Opts.G).solve();
  int Rc = 0;
  if (Opts.Check)
    Rc = std::max(Rc, runCheck(Opts, Sol));
  if (Opts.Stats)
    Rc = std::max(Rc, runStats(Opts, Sol));
  if (!Opts.Output.empty())
    Rc = std::max(Rc, writeOutput(Opts, Sol));
  return Rc;
}
