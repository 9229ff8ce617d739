"""The public names that issues and users rely on resolve from a bare `import basinlab`."""

import basinlab


def test_public_names():
    assert callable(basinlab.load)
    assert callable(basinlab.models.forward) and callable(basinlab.models.generate)
    assert basinlab.theory.strong_bound(0.9, 1.0, 1.0) > 0.61
    for name in ("landscape.landscape", "directions.gaussian", "directions.between", "results.save",
                 "certify.certify", "stats.clopper_pearson", "optim.go", "train.finetune",
                 "benchmarks.registry.build", "training.worstcase.worst_case", "worstcase.collapse",
                 "sft.finetune_run", "sft.alignment", "benchmarks.references.reference",
                 "widgets.RunExplorer", "pretrain.pretrain", "pretrain.init_model", "basins.width"):
        obj = basinlab
        for part in name.split("."):
            obj = getattr(obj, part)
        assert callable(obj), name
