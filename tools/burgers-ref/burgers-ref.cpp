//===- burgers-ref.cpp - Cole-Hopf reference solution of viscous Burgers --===//
//
// Part of physc. physc-burgers-ref evaluates the exact solution of
//
//   u_t + u u_x = nu u_xx,  x in [-1, 1], t in [0, 1],  nu = 0.01 / pi,
//   u(x, 0) = -sin(pi x),   u(-1, t) = u(1, t) = 0,
//
// the classic PINN benchmark, and writes it on a uniform grid as the CSV that
// `exact u = file("burgers_ref.csv")` reads. The Cole-Hopf transform turns the
// problem into the heat equation; its closed form is
//
//   u(x, t) = - I[sin(pi (x - eta)) f(x - eta)] / I[f(x - eta)],
//   I[g] = int g(eta) exp(-eta^2 / (4 nu t)) d eta,
//   f(y) = exp(-cos(pi y) / (2 pi nu)),
//
// and with eta = sqrt(4 nu t) z both integrals are Gauss-Hermite integrals
// (Basdevant et al., Computers & Fluids 14 (1986) 23-41).
//
// The tool is deliberately free of LLVM: it is a numerical reference, and
// keeping it independent of the compiler means a compiler bug cannot leak into
// the numbers the compiler is judged against.
//
//===----------------------------------------------------------------------===//

#include <Eigen/Eigenvalues>

#include "physc/RefTool.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

constexpr double Pi = 3.14159265358979323846;
constexpr long double PiL = 3.14159265358979323846264338327950288L;

/// Viscosity of the benchmark.
constexpr double Nu = 0.01 / Pi;

/// Number of Gauss-Hermite nodes used unless --quad says otherwise. The
/// integrand in z is exp(-z^2) times exp(-50 cos(pi (x - c z))), c up to
/// 0.113 at t = 1: its mass sits up to z ~ 9 from the origin, so the rule must
/// reach that far (its largest node is ~ sqrt(2Q)). Measured max |u_Q - u_2Q|
/// on a 2001 x 401 grid: Q = 48: 6e-7, 64: 2e-10, 80: 1e-13, 96: 5e-15
/// (roundoff). 96 is the smallest Q at roundoff level.
constexpr int DefaultQuad = 96;

/// Tolerance of --check: the largest |u_Q - u_2Q| allowed on the grid.
constexpr double CheckTolerance = 1e-7;

/// sin(pi y) with exact argument reduction: accurate for any y, and exactly
/// zero at the integers (the initial condition at x = -1, 0, 1), where
/// std::sin(pi * y) gives 1.2e-16.
double sinPi(double Y) {
  double R = std::remainder(Y, 2.0); // Exact; R in [-1, 1].
  double S = std::copysign(1.0, R);
  double A = std::fabs(R);
  if (A > 0.5)
    A = 1.0 - A; // Exact for A in (0.5, 1] (Sterbenz).
  return S * std::sin(Pi * A);
}

/// cos(pi y) with the same reduction as sinPi.
double cosPi(double Y) {
  double A = std::fabs(std::remainder(Y, 2.0));
  if (A > 0.5)
    return -std::sin(Pi * (A - 0.5));
  return std::sin(Pi * (0.5 - A));
}

/// Gauss-Hermite rule for the weight exp(-z^2). Weights are kept as
/// logarithms: for Q in the hundreds the outer weights are below 1e-300 and
/// would underflow, yet they multiply f, which can be as large as e^50.
struct HermiteRule {
  std::vector<double> Nodes;
  std::vector<double> LogWeights;
};

/// Evaluates the orthonormal Hermite functions psi_j(z) = p_j(z) exp(-z^2/2)
/// up to j = N and returns psi_N and psi_{N-1}. The Gaussian factor keeps the
/// values O(1) near the oscillatory region; long double holds the tiny
/// exp(-z^2/2) start value for any node we will ever use.
void hermiteFunctions(int N, long double Z, long double &PsiN,
                      long double &PsiNm1) {
  long double P0 = std::pow(PiL, -0.25L) * std::exp(-Z * Z / 2);
  long double Prev = 0.0L, Cur = P0;
  for (int J = 1; J <= N; ++J) {
    long double Next = Z * std::sqrt(2.0L / J) * Cur -
                       std::sqrt(static_cast<long double>(J - 1) / J) * Prev;
    Prev = Cur;
    Cur = Next;
  }
  PsiN = Cur;
  PsiNm1 = Prev;
}

/// Golub-Welsch gives the nodes as eigenvalues of the Jacobi matrix (diagonal
/// 0, off-diagonal sqrt(k/2)); a Newton step on p_Q in long double polishes
/// them, and the weights come from w_i = 1 / (Q p_{Q-1}(z_i)^2) instead of the
/// eigenvectors, whose tiny components have no relative accuracy.
HermiteRule makeHermiteRule(int Q) {
  Eigen::VectorXd Diag = Eigen::VectorXd::Zero(Q);
  Eigen::VectorXd Sub(Q > 1 ? Q - 1 : 0);
  for (int K = 1; K < Q; ++K)
    Sub(K - 1) = std::sqrt(K / 2.0);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> Solver;
  Solver.computeFromTridiagonal(Diag, Sub, Eigen::EigenvaluesOnly);

  HermiteRule Rule;
  Rule.Nodes.resize(Q);
  Rule.LogWeights.resize(Q);
  for (int I = 0; I < Q; ++I) {
    long double Z = Solver.eigenvalues()(I);
    long double PsiN, PsiNm1;
    for (int Iter = 0; Iter < 3; ++Iter) {
      hermiteFunctions(Q, Z, PsiN, PsiNm1);
      // p_Q' = sqrt(2Q) p_{Q-1}; the Gaussian factors cancel in the ratio.
      Z -= PsiN / (std::sqrt(2.0L * Q) * PsiNm1);
    }
    hermiteFunctions(Q, Z, PsiN, PsiNm1);
    Rule.Nodes[I] = static_cast<double>(Z);
    Rule.LogWeights[I] =
        static_cast<double>(-std::log(static_cast<long double>(Q)) -
                            2 * std::log(std::fabs(PsiNm1)) - Z * Z);
  }
  return Rule;
}

/// u and du/dx at one point.
struct Value {
  double U;
  double Ux;
};

/// The Cole-Hopf solution evaluated with a fixed Gauss-Hermite rule.
class BurgersSolution {
public:
  explicit BurgersSolution(int Q) : Rule(makeHermiteRule(Q)) {
    Terms.resize(Q);
  }

  /// u(x, t) and its x-derivative. The solution is odd in x, and zero at
  /// x = 0 and at the walls; these symmetries are imposed exactly rather than
  /// left to roundoff (~1e-17), so the written reference satisfies them bit
  /// for bit.
  Value eval(double X, double T) {
    if (X < 0) {
      Value V = eval(-X, T);
      return {-V.U, V.Ux};
    }
    Value V = evalQuadrature(X, T);
    if (X == 0 || X == 1)
      V.U = 0;
    return V;
  }

  double u(double X, double T) { return eval(X, T).U; }

  /// Sum of the weights, sqrt(pi) for an exact rule: a cheap sanity check of
  /// the node/weight computation.
  double weightSum() const {
    double S = 0;
    for (double LW : Rule.LogWeights)
      S += std::exp(LW);
    return S;
  }

private:
  /// The quadrature formula for u and du/dx. The derivative is that of the
  /// formula itself (d/dx moves inside the sums), so it is as accurate as u.
  Value evalQuadrature(double X, double T) {
    if (T <= 0.0)
      return {-sinPi(X), -Pi * cosPi(X)};
    // f's exponent -cos(pi y) / (2 pi nu) = -50 cos(pi y) ranges over
    // [-50, 50]; with the log-weights it can reach far below double's range,
    // so every term is scaled by exp(-max exponent) before summing.
    const double Scale = std::sqrt(4.0 * Nu * T);
    const double K = 1.0 / (2.0 * Pi * Nu);
    const int Q = static_cast<int>(Rule.Nodes.size());
    double MaxExp = -INFINITY;
    for (int I = 0; I < Q; ++I) {
      double Y = X - Scale * Rule.Nodes[I];
      Terms[I] = Rule.LogWeights[I] - K * cosPi(Y);
      MaxExp = std::max(MaxExp, Terms[I]);
    }
    // N = sum w f sin, D = sum w f; with f' = f * K pi sin(pi y):
    // dN/dx = sum w f (pi cos + K pi sin^2), dD/dx = sum w f K pi sin.
    double Num = 0, Den = 0, DNum = 0, DDen = 0;
    for (int I = 0; I < Q; ++I) {
      double Y = X - Scale * Rule.Nodes[I];
      double E = std::exp(Terms[I] - MaxExp);
      double S = sinPi(Y), C = cosPi(Y);
      Num += E * S;
      Den += E;
      DNum += E * (Pi * C + K * Pi * S * S);
      DDen += E * K * Pi * S;
    }
    return {-Num / Den, -(DNum * Den - Num * DDen) / (Den * Den)};
  }

  HermiteRule Rule;
  std::vector<double> Terms;
};

/// The uniform grid, endpoints included.
struct Grid {
  int Nx = 256;
  int Nt = 101;
  /// (2I - (Nx - 1)) / (Nx - 1) rather than -1 + 2I / (Nx - 1): an exact
  /// numerator makes the grid exactly symmetric, x(Nx - 1 - I) == -x(I).
  double x(int I) const { return double(2 * I - (Nx - 1)) / (Nx - 1); }
  double t(int J) const { return J == Nt - 1 ? 1.0 : double(J) / (Nt - 1); }
};

struct Options {
  Grid G;
  int Quad = DefaultQuad;
  std::string Output;
  bool Check = false;
  bool Slope = false;
};

void printUsage(FILE *To) {
  std::fprintf(
      To,
      "usage: physc-burgers-ref [options]\n"
      "Exact (Cole-Hopf) solution of u_t + u u_x = (0.01/pi) u_xx on\n"
      "[-1,1]x[0,1], u(x,0) = -sin(pi x), u(+-1,t) = 0.\n\n"
      "  --nx N      grid points in x, endpoints included (default 256)\n"
      "  --nt M      grid points in t, endpoints included (default 101)\n"
      "  --quad Q    Gauss-Hermite nodes (default %d)\n"
      "  -o FILE     write CSV 'x,t,u' to FILE ('-' = stdout)\n"
      "  --check     compare Q and 2Q nodes on the grid; exit 1 if the\n"
      "              largest difference exceeds %g\n"
      "  --slope     print du/dx at x = 0, t = 1/pi, and the largest |du/dx|\n"
      "              at x = 0 over t in [0, 1] with the time it occurs\n"
      "  -h, --help  this text\n",
      DefaultQuad, CheckTolerance);
}

constexpr const char *Tool = "physc-burgers-ref";

bool parseInt(const char *Opt, const char *Text, int Lo, int Hi, int &Out) {
  return physc::ref::parseInt(Tool, Opt, Text, Lo, Hi, Out);
}

/// Returns 0 to continue, or the exit status to stop with.
int parseArgs(int Argc, char **Argv, Options &Opts) {
  for (int I = 1; I < Argc; ++I) {
    const char *A = Argv[I];
    auto NeedValue = [&]() -> const char * {
      if (I + 1 >= Argc) {
        std::fprintf(stderr, "physc-burgers-ref: %s expects a value\n", A);
        return nullptr;
      }
      return Argv[++I];
    };
    if (!std::strcmp(A, "-h") || !std::strcmp(A, "--help")) {
      printUsage(stdout);
      return -1;
    }
    if (!std::strcmp(A, "--nx") || !std::strcmp(A, "--nt") ||
        !std::strcmp(A, "--quad")) {
      const char *V = NeedValue();
      if (!V)
        return 2;
      bool Ok = !std::strcmp(A, "--nx") ? parseInt(A, V, 2, 1 << 20, Opts.G.Nx)
                : !std::strcmp(A, "--nt")
                    ? parseInt(A, V, 2, 1 << 20, Opts.G.Nt)
                    : parseInt(A, V, 1, 2000, Opts.Quad);
      if (!Ok)
        return 2;
    } else if (!std::strcmp(A, "-o")) {
      const char *V = NeedValue();
      if (!V)
        return 2;
      if (!*V) {
        std::fprintf(stderr, "physc-burgers-ref: -o expects a file name\n");
        return 2;
      }
      Opts.Output = V;
    } else if (!std::strcmp(A, "--check")) {
      Opts.Check = true;
    } else if (!std::strcmp(A, "--slope")) {
      Opts.Slope = true;
    } else {
      std::fprintf(stderr,
                   "physc-burgers-ref: unknown option '%s' (see --help)\n", A);
      return 2;
    }
  }
  if (Opts.Output.empty() && !Opts.Check && !Opts.Slope) {
    std::fprintf(stderr, "physc-burgers-ref: nothing to do: give -o FILE, "
                         "--check or --slope (see --help)\n");
    return 2;
  }
  return 0;
}

/// The grid as CSV 'x,t,u' (physc::ref::writeGridCsvFile).
int writeOutput(const Options &Opts, BurgersSolution &Sol) {
  const Grid &G = Opts.G;
  return physc::ref::writeGridCsvFile(Tool, Opts.Output, G, [&](int I, int J) {
    return Sol.u(G.x(I), G.t(J)) + 0.0; // + 0.0 turns -0 into 0.
  });
}

/// --check: the largest |u_Q - u_2Q| over the grid. Exponential convergence of
/// Gauss-Hermite means this difference is essentially the error of u_Q.
int runCheck(const Options &Opts, BurgersSolution &Sol) {
  BurgersSolution Fine(2 * Opts.Quad);
  double MaxDiff = 0, AtX = 0, AtT = 0;
  for (int J = 0; J < Opts.G.Nt; ++J)
    for (int I = 0; I < Opts.G.Nx; ++I) {
      double X = Opts.G.x(I), T = Opts.G.t(J);
      double D = std::fabs(Sol.u(X, T) - Fine.u(X, T));
      if (!(D <= MaxDiff)) { // Also catches NaN.
        MaxDiff = D;
        AtX = X;
        AtT = T;
      }
    }
  double WSum = Sol.weightSum();
  bool Ok = MaxDiff <= CheckTolerance &&
            std::fabs(WSum - std::sqrt(Pi)) <= 1e-12 * std::sqrt(Pi);
  std::printf("check: quad %d vs %d on %dx%d grid: max |du| = %.3e at "
              "x = %.6g, t = %.6g; weight sum - sqrt(pi) = %.3e: %s\n",
              Opts.Quad, 2 * Opts.Quad, Opts.G.Nx, Opts.G.Nt, MaxDiff, AtX, AtT,
              WSum - std::sqrt(Pi), Ok ? "ok" : "FAILED");
  return Ok ? 0 : 1;
}

/// --slope: the shock steepness at x = 0, the number papers quote to validate
/// Burgers solvers (Basdevant et al. give max |u_x| = 152.00516 at
/// t = 1.6037/pi). The derivative comes from the quadrature formula; a
/// central difference of u is printed beside it as an independent check.
int runSlope(BurgersSolution &Sol) {
  const double T0 = 1.0 / Pi, H = 1e-6;
  double Ux = Sol.eval(0.0, T0).Ux;
  double Fd = (Sol.u(H, T0) - Sol.u(-H, T0)) / (2 * H);
  std::printf("slope: du/dx(x=0, t=1/pi) = %.8f (central difference h=%g: "
              "%.8f)\n",
              Ux, H, Fd);
  // |u_x(0, t)| rises to a single maximum and then decays by diffusion:
  // golden-section search on a bracket from a coarse scan.
  auto Steep = [&](double T) { return -Sol.eval(0.0, T).Ux; };
  const int Scan = 200;
  int Best = 1;
  for (int K = 1; K <= Scan; ++K)
    if (Steep(double(K) / Scan) > Steep(double(Best) / Scan))
      Best = K;
  double A = double(std::max(Best - 1, 0)) / Scan;
  double B = double(std::min(Best + 1, Scan)) / Scan;
  const double G = (std::sqrt(5.0) - 1) / 2;
  double C = B - G * (B - A), D = A + G * (B - A);
  double FC = Steep(C), FD = Steep(D);
  while (B - A > 1e-12) {
    if (FC > FD) {
      B = D;
      D = C;
      FD = FC;
      C = B - G * (B - A);
      FC = Steep(C);
    } else {
      A = C;
      C = D;
      FC = FD;
      D = A + G * (B - A);
      FD = Steep(D);
    }
  }
  double TMax = (A + B) / 2;
  std::printf("slope: max |du/dx(x=0, t)| = %.8f at t = %.8f = %.6f/pi\n",
              Steep(TMax), TMax, TMax * Pi);
  return 0;
}

} // namespace

int main(int Argc, char **Argv) {
  Options Opts;
  if (int Rc = parseArgs(Argc, Argv, Opts))
    return Rc < 0 ? 0 : Rc;
  BurgersSolution Sol(Opts.Quad);
  int Rc = 0;
  if (Opts.Check)
    Rc = std::max(Rc, runCheck(Opts, Sol));
  if (Opts.Slope)
    Rc = std::max(Rc, runSlope(Sol));
  if (!Opts.Output.empty())
    Rc = std::max(Rc, writeOutput(Opts, Sol));
  return Rc;
}
