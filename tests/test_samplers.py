"""Samplers: random start-ups and populations are counted in trained candidates, not in the sweep points they store."""

from __future__ import annotations

import optuna

from dslnas.search.config import SearchConfig
from dslnas.search.samplers import STARTUP_CANDIDATES, make_sampler, sweep_points_per_candidate
from dslnas.spaces.space_presets import demo_space


def _asks_like_the_first_candidate(trials_per_candidate: int) -> int:
    """Store one trained candidate's sweep (its points share the knob values) in a study sampled by TPE, then
    ask 16 times: how many of the asks' categorical knob values (switch depth, light widths, switch head)
    repeat its own (summed over knobs: the demo space has too many for whole repeats to show)."""
    config = SearchConfig(space=demo_space(), seed=0, sampler="tpe")
    dists = config.space.optuna_distributions()
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=make_sampler(config, trials_per_candidate=trials_per_candidate))
    first = study.ask(dists)
    study.tell(first, [2.0, 5.0])
    for i in range(sweep_points_per_candidate(config) - 1):  # the sweep: same knobs, other quality/latency
        study.add_trial(optuna.trial.create_trial(params=first.params, distributions=dists, values=[2.0 - 0.01 * i, 5.0 - 0.1 * i]))
    asks = [study.ask(dists).params for _ in range(16)]
    categorical = [k for k, d in dists.items() if isinstance(d, optuna.distributions.CategoricalDistribution)]
    return sum(sum(p.get(k) == first.params.get(k) for k in categorical) for p in asks)


def test_tpe_stays_random_for_its_start_up_candidates_whatever_their_sweep_size() -> None:
    assert STARTUP_CANDIDATES >= 2
    assert sweep_points_per_candidate(SearchConfig(space=demo_space())) == 12
    random_start_up = _asks_like_the_first_candidate(sweep_points_per_candidate(SearchConfig(space=demo_space())))
    modelling = _asks_like_the_first_candidate(1)  # counted in trials: start-up over after 3
    assert modelling > 1.5 * random_start_up  # a modelling TPE samples around the one candidate it has


def test_explicit_sweep_thresholds_set_the_points_per_candidate() -> None:
    space = demo_space().model_copy(update={"sweep_thresholds": (0.1, 0.2, 0.5)})
    assert sweep_points_per_candidate(SearchConfig(space=space)) == 3


def test_gp_counts_its_start_up_in_candidates_too() -> None:
    # GP's modelling does not repeat one candidate's knobs as TPE's does, so the asks cannot show it: read
    # the start-up the sampler was built with (Optuna's default would be 10 trials).
    sampler = make_sampler(SearchConfig(space=demo_space(), sampler="gp"), trials_per_candidate=12)
    assert sampler._n_startup_trials == STARTUP_CANDIDATES * 12


def test_nsga2_leaves_its_random_first_generation_after_its_population_of_candidates() -> None:
    """Each trained candidate stores its sweep points beside it (finished trials NSGA-II did not sample); its
    generations must still advance every NSGA2_POPULATION_CANDIDATES trained candidates."""
    from dslnas.search.samplers import NSGA2_POPULATION_CANDIDATES

    config = SearchConfig(space=demo_space(), seed=0, sampler="nsga2")
    per_candidate = sweep_points_per_candidate(config)
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=make_sampler(config, trials_per_candidate=per_candidate))
    dists = config.space.optuna_distributions()
    generations = []
    for c in range(3 * NSGA2_POPULATION_CANDIDATES):
        trial = study.ask(dists)
        study.tell(trial, [2.0 + 0.01 * c, 5.0 + 0.02 * c])
        generations.append(study.trials[-1].system_attrs.get("NSGAIISampler:generation"))
        for i in range(per_candidate - 1):
            study.add_trial(optuna.trial.create_trial(params=trial.params, distributions=dists,
                                                      values=[2.0 - 0.01 * i, 5.0 - 0.1 * i]))
    assert NSGA2_POPULATION_CANDIDATES >= 2
    assert generations == [c // NSGA2_POPULATION_CANDIDATES for c in range(3 * NSGA2_POPULATION_CANDIDATES)]


def test_gp_draws_conditional_knobs_at_random_without_a_warning_per_trial(caplog) -> None:
    """The default sampler models the knobs every trial has and draws a depth's widths at random on purpose:
    no 'sampled independently' warning for each such knob of each trial."""
    config = SearchConfig(space=demo_space(), seed=0, sampler="gp")
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(config, trials_per_candidate=1))

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        depth = trial.suggest_categorical("depth", [1, 2])
        return float(trial.suggest_int(f"width_d{depth}", 1, 8)), float(depth)

    with caplog.at_level("WARNING", logger="optuna"):
        study.optimize(objective, n_trials=STARTUP_CANDIDATES + 3)
    assert len(study.trials) == STARTUP_CANDIDATES + 3
    assert not [r for r in caplog.records if "sampled independently" in r.getMessage()]
