"""Paired statistics of a comparison: the per-seed change from the baseline.

Runs of the two configs with the same seed start from the same weights and
see the same data order, so each seed gives one paired difference
``delta = GC - baseline``. Over n >= 2 seeds, the mean delta gets a two-sided
95% confidence interval from Student's t with n - 1 degrees of freedom
(the paired t-test): mean ± t_{0.975, n-1} * sd / sqrt(n). When the interval
excludes 0 and there are at least :data:`MIN_SEEDS_FOR_DIRECTION` seeds, the
verdict names the direction; otherwise the seeds have not resolved a
difference. When every seed gave the same delta (sd 0) there is no interval:
a width of 0 says nothing about the next seed, so ``ci95`` is None and the
verdict says that the seeds agree exactly.

The t quantile comes from scipy when it is installed, else from the table
below (exact to 6 decimals for df 1-30) and, past df 30, from the normal
quantile with its Cornish-Fisher corrections (within 1e-7 there).
"""
import math
import re
from typing import Optional, Sequence, Tuple

#: t_{0.975, df} for df = 1 .. 30.
T_975 = (12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912,
         2.364624, 2.306004, 2.262157, 2.228139, 2.200985, 2.178813,
         2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
         2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899,
         2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272)
#: The 0.975 quantile of the standard normal: the t quantile as df grows.
Z_975 = 1.959963984540054

#: Fewest seeds on which a verdict names a direction. With two, the interval
#: rests on one degree of freedom: two deltas that happen to lie close
#: together give a narrow interval that claims more than two runs can show.
MIN_SEEDS_FOR_DIRECTION = 3

TEST_NAME = ('paired t: mean of the per-seed deltas (GC - baseline, same '
             'seed), two-sided 95% confidence interval from Student t with '
             'n - 1 degrees of freedom')

# A metric where lower is better: an error rate, a loss, a distance.
_LOWER_IS_BETTER = re.compile(r'(^|[/_.\-])(error|err|loss|mse|mae|rmse)'
                              r'($|[/_.\-])', re.IGNORECASE)


def t_quantile_975(df: int) -> Tuple[float, str]:
    """(t_{0.975, df}, where it came from: 'scipy' or 'table')."""
    if df < 1:
        raise ValueError(f'A t quantile needs df >= 1, got {df}.')
    try:
        from scipy import stats
    except ImportError:
        pass
    else:
        return float(stats.t.ppf(0.975, df)), 'scipy'
    if df <= len(T_975):
        return T_975[df - 1], 'table'
    z = Z_975
    terms = ((z**3 + z) / 4,
             (5 * z**5 + 16 * z**3 + 3 * z) / 96,
             (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
             (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z)
             / 92160)
    return z + sum(g / df**(i + 1) for i, g in enumerate(terms)), 'table'


def lower_is_better(key: str) -> bool:
    """Metrics named as an error or a loss improve downwards."""
    return bool(_LOWER_IS_BETTER.search(key))


def verdict(lo: Optional[float], hi: Optional[float], n: int,
            subject: str = 'GC', higher_is_better: bool = True) -> str:
    """'GC higher (better)', 'GC lower (worse)', ... when the interval
    [lo, hi] excludes 0 on at least MIN_SEEDS_FOR_DIRECTION seeds, else why
    n seeds resolved no difference."""
    if lo is None or hi is None:
        return f'no interval with {n} seed' + ('s' if n != 1 else '')
    if not (lo > 0 or hi < 0):
        return f'no difference resolved with {n} seeds'
    if n < MIN_SEEDS_FOR_DIRECTION:
        return (f'not resolved with {n} seeds: the interval excludes 0, but '
                f'a direction needs {MIN_SEEDS_FOR_DIRECTION} or more seeds')
    higher = lo > 0
    better = higher == higher_is_better
    return (f'{subject} {"higher" if higher else "lower"} '
            f'({"better" if better else "worse"})')


def same_deltas(deltas: Sequence[float]) -> bool:
    """Every seed gave the same delta, up to the rounding of scaling and
    subtracting two metrics (COCO's .512 and .498 give a delta of 1.4 that
    differs in the last bits from the one of .612 and .598)."""
    scale = max(abs(d) for d in deltas)
    return all(math.isclose(d, deltas[0], rel_tol=1e-9, abs_tol=1e-12 *
                            max(scale, 1.0)) for d in deltas)


def paired_stats(deltas: Sequence[Optional[float]], subject: str = 'GC',
                 higher_is_better: bool = True) -> dict:
    """Mean, sample sd, 95% interval and verdict of per-seed deltas, and
    on how many seeds the candidate did better (``seeds_better``).

    ``resolved`` is True where the verdict names a direction. With one delta,
    or with n deltas that are all the same, there is no interval (``ci95``,
    ``half_width`` and the t quantile None); with a missing value (COCOeval's
    -1) nothing is computed (``mean`` None).
    """
    n = len(deltas)
    result = dict(test=TEST_NAME, n=n, deltas=list(deltas), mean=None,
                  sd=None, df=None, t_quantile=None, t_source=None,
                  half_width=None, ci95=None, seeds_better=None,
                  better='higher' if higher_is_better else 'lower',
                  resolved=False)
    if n == 0 or any(d is None for d in deltas):
        result['verdict'] = 'n/a (a value is missing)'
        return result
    mean = sum(deltas) / n
    result['mean'] = mean
    # The sign test's count: how many seeds moved the good way.
    result['seeds_better'] = sum(
        1 for d in deltas if (d > 0 if higher_is_better else d < 0))
    if n < 2:
        result['verdict'] = verdict(None, None, n, subject, higher_is_better)
        return result
    sd = math.sqrt(sum((d - mean)**2 for d in deltas) / (n - 1))
    result.update(sd=sd, df=n - 1)
    if same_deltas(deltas):
        # A t interval of width 0 would exclude 0 for any nonzero delta and
        # call it resolved; identical deltas (a deterministic pair, or a
        # metric that saturates) carry no estimate of the spread at all.
        result['verdict'] = (f'the {n} seeds agree exactly: no interval can '
                             'be estimated')
        return result
    t, source = t_quantile_975(n - 1)
    half = t * sd / math.sqrt(n)
    result.update(t_quantile=t, t_source=source, half_width=half,
                  ci95=[mean - half, mean + half])
    result['verdict'] = verdict(mean - half, mean + half, n, subject,
                                higher_is_better)
    result['resolved'] = n >= MIN_SEEDS_FOR_DIRECTION and (
        mean - half > 0 or mean + half < 0)
    return result
