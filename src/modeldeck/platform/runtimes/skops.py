"""scikit-learn models saved with skops, loaded only when every type in the file is on an explicit allow-list.

skops rebuilds objects without unpickling, but constructing an arbitrary type can still run code, so the
types the file names are audited first and refused by name when they are not in ``TRUSTED_SKOPS_TYPES``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from types import ModuleType

from modeldeck.errors import InvalidParameter, UnsafeFormat

from ._errors import load_failed, require
from ._sklearn import SklearnRuntime
from ._spec import list_names

# Trusted on top of skops' own defaults (builtins, numpy arrays and ufuncs, and in recent skops releases
# the public sklearn estimators). Estimators are listed anyway so older skops releases behave the same.
# Types are named by their defining module, as skops reports them.
TRUSTED_SKOPS_TYPES: frozenset[str] = frozenset(
    {
        # estimators and transformers
        "sklearn.pipeline.Pipeline",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._data.MinMaxScaler",
        "sklearn.preprocessing._data.MaxAbsScaler",
        "sklearn.preprocessing._data.RobustScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._encoders.OrdinalEncoder",
        "sklearn.preprocessing._polynomial.PolynomialFeatures",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.decomposition._pca.PCA",
        "sklearn.feature_selection._variance_threshold.VarianceThreshold",
        "sklearn.feature_selection._univariate_selection.SelectKBest",
        "sklearn.linear_model._base.LinearRegression",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._ridge.Ridge",
        "sklearn.linear_model._ridge.RidgeClassifier",
        "sklearn.linear_model._coordinate_descent.Lasso",
        "sklearn.linear_model._coordinate_descent.ElasticNet",
        "sklearn.linear_model._stochastic_gradient.SGDClassifier",
        "sklearn.linear_model._stochastic_gradient.SGDRegressor",
        "sklearn.svm._classes.SVC",
        "sklearn.svm._classes.SVR",
        "sklearn.svm._classes.LinearSVC",
        "sklearn.svm._classes.LinearSVR",
        "sklearn.naive_bayes.GaussianNB",
        "sklearn.neighbors._classification.KNeighborsClassifier",
        "sklearn.neighbors._regression.KNeighborsRegressor",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.DecisionTreeRegressor",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.RandomForestRegressor",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "sklearn.ensemble._forest.ExtraTreesRegressor",
        "sklearn.ensemble._gb.GradientBoostingClassifier",
        "sklearn.ensemble._gb.GradientBoostingRegressor",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
        "sklearn.ensemble._weight_boosting.AdaBoostClassifier",
        "sklearn.ensemble._iforest.IsolationForest",
        "sklearn.ensemble._voting.VotingClassifier",
        "sklearn.ensemble._stacking.StackingClassifier",
        "sklearn.calibration.CalibratedClassifierCV",
        "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
        "sklearn.neural_network._multilayer_perceptron.MLPRegressor",
        "sklearn.cluster._kmeans.KMeans",
        # fitted internals of the estimators above
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.utils._bunch.Bunch",
        # scoring functions kept by feature selectors (referenced, never called at load)
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.f_regression",
        "sklearn.feature_selection._univariate_selection.chi2",
        # numpy / scipy helpers
        "numpy.dtype",
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse._csc.csc_matrix",
    }
)

_MAX_NAME = 120


def load(path: Path) -> SklearnRuntime:
    sio = check_types(path)
    try:
        model = sio.load(path, trusted=sorted(TRUSTED_SKOPS_TYPES))
    except Exception as exc:  # version mismatches surface as arbitrary errors while rebuilding objects
        raise load_failed(
            "skops could not load the model.",
            hint="Check that it was saved with the scikit-learn and skops versions installed here.",
        ) from exc
    return SklearnRuntime(model, "SkopsModel", path.stat().st_size)


def check_types(path: Path) -> ModuleType:
    """Refuse a file that is no skops archive or names a type outside the allow-list; returns skops.io."""
    if not zipfile.is_zipfile(path):
        raise _not_skops()
    sio = require("skops.io", package="skops", extra="sklearn")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a corrupt archive or schema fails in many ways inside skops
        raise _not_skops() from exc
    # Type names come from the file: shown (they are what the uploader must fix) but kept short.
    refused = sorted(name[:_MAX_NAME] for name in set(untrusted) - TRUSTED_SKOPS_TYPES)
    if refused:
        raise UnsafeFormat(
            f"The skops file contains types the platform does not trust: {list_names(refused)}.",
            hint="Build the model from standard scikit-learn estimators, or export it to ONNX.",
        )
    return sio


def _not_skops() -> InvalidParameter:
    return load_failed(
        "The file is not a valid skops file.",
        hint="Save the model with skops.io.dump and upload the .skops file.",
    )
