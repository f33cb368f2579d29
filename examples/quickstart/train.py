"""Quickstart: train a breast-cancer classifier with XGBoost and track it with MLflow.

Plain MLflow client code, nothing Ferry-specific: point MLFLOW_TRACKING_URI at
`ferry server` (or any MLflow tracking server) and run

    python train.py --experiment-name quickstart --n-estimators 100 --max-depth 4
    python train.py --worse     # a deliberately bad model, to see a promotion refused

The dataset ships inside scikit-learn, so nothing is downloaded. The features
are passed to XGBoost as a float32 numpy array, so the logged model's signature
is a single tensor input of shape (-1, 30); the train/test DataFrames are logged
as the run's datasets. Log loss and AUC on both splits are logged for every
boosting round, and the model is logged as an MLflow xgboost model with a
signature and an input example.
"""

from __future__ import annotations

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import mlflow.data  # noqa: E402
import mlflow.xgboost  # noqa: E402
import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    ConfusionMatrixDisplay,
    RocCurveDisplay,
    accuracy_score,
    classification_report,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split  # noqa: E402

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment-name", default="quickstart")
    p.add_argument("--run-name", default=None)
    p.add_argument("--n-estimators", type=int, default=100, help="boosting rounds")
    p.add_argument("--max-depth", type=int, default=4)
    p.add_argument("--learning-rate", type=float, default=0.1)
    p.add_argument("--subsample", type=float, default=0.8, help="rows sampled per tree")
    p.add_argument("--colsample-bytree", type=float, default=0.8, help="features sampled per tree")
    p.add_argument("--label-noise", type=float, default=0.0,
                   help="fraction of training labels to flip (to simulate bad data)")
    p.add_argument("--test-size", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--worse",
        action="store_true",
        help="train a deliberately worse model (3 stumps, half the rows per tree, 30%% of "
        "the training labels flipped); overrides the model options above",
    )
    args = p.parse_args()
    if args.worse:
        args.n_estimators, args.max_depth, args.learning_rate = 3, 1, 0.3
        args.subsample, args.colsample_bytree, args.label_noise = 0.5, 1.0, 0.3
        args.run_name = args.run_name or "worse"
    return args


def main() -> None:
    args = parse_args()
    if "MLFLOW_TRACKING_URI" not in os.environ:
        print("MLFLOW_TRACKING_URI is not set; MLflow will log to a local ./mlruns or mlflow.db")

    data = load_breast_cancer(as_frame=True)
    frame = data.frame  # 30 feature columns + "target"
    train_df, test_df = train_test_split(
        frame, test_size=args.test_size, random_state=args.seed, stratify=frame["target"]
    )
    features = list(data.feature_names)
    X_train = train_df[features].to_numpy(dtype=np.float32)
    X_test = test_df[features].to_numpy(dtype=np.float32)
    y_train, y_test = train_df["target"].to_numpy(), test_df["target"].to_numpy()
    if args.label_noise > 0:
        flip = np.random.default_rng(args.seed).random(len(y_train)) < args.label_noise
        y_train = np.where(flip, 1 - y_train, y_train)

    mlflow.set_experiment(args.experiment_name)
    with mlflow.start_run(run_name=args.run_name) as run:
        mlflow.set_tags(
            {
                "task": "binary-classification",
                "dataset": "sklearn breast_cancer",
                "variant": "worse" if args.worse else "baseline",
            }
        )
        mlflow.log_params(
            {
                "model": "XGBClassifier",
                "xgboost_version": xgb.__version__,
                "n_estimators": args.n_estimators,
                "max_depth": args.max_depth,
                "learning_rate": args.learning_rate,
                "subsample": args.subsample,
                "colsample_bytree": args.colsample_bytree,
                "label_noise": args.label_noise,
                "test_size": args.test_size,
                "seed": args.seed,
                "n_features": len(features),
                "n_train": len(train_df),
                "n_test": len(test_df),
            }
        )
        # No explicit source: MLflow records this script as the dataset's origin.
        mlflow.log_input(
            mlflow.data.from_pandas(train_df, name="breast-cancer-train", targets="target"),
            context="training",
        )
        mlflow.log_input(
            mlflow.data.from_pandas(test_df, name="breast-cancer-test", targets="target"),
            context="evaluation",
        )

        model = xgb.XGBClassifier(
            n_estimators=args.n_estimators,
            max_depth=args.max_depth,
            learning_rate=args.learning_rate,
            subsample=args.subsample,
            colsample_bytree=args.colsample_bytree,
            eval_metric=["logloss", "auc"],
            random_state=args.seed,
        )
        model.fit(X_train, y_train, eval_set=[(X_train, y_train), (X_test, y_test)], verbose=False)

        # One point per boosting round for each split's loss and AUC.
        history = model.evals_result()
        train_hist, test_hist = history["validation_0"], history["validation_1"]
        for i in range(len(train_hist["logloss"])):
            mlflow.log_metrics(
                {
                    "train_loss": train_hist["logloss"][i],
                    "val_loss": test_hist["logloss"][i],
                    "train_auc": train_hist["auc"][i],
                    "val_auc": test_hist["auc"][i],
                },
                step=i,
            )

        proba = model.predict_proba(X_test)[:, 1]
        pred = model.predict(X_test)
        test_metrics = {
            "test_accuracy": accuracy_score(y_test, pred),
            "test_auc": roc_auc_score(y_test, proba),
        }
        mlflow.log_metrics(test_metrics)

        fig, (ax_roc, ax_cm) = plt.subplots(1, 2, figsize=(10, 4))
        RocCurveDisplay.from_predictions(y_test, proba, ax=ax_roc, name="XGBoost")
        ConfusionMatrixDisplay.from_predictions(
            y_test, pred, display_labels=list(data.target_names), ax=ax_cm, colorbar=False
        )
        ax_roc.set_title("ROC (test)")
        ax_cm.set_title("Confusion matrix (test)")
        fig.tight_layout()
        mlflow.log_figure(fig, "plots/roc_confusion.png")
        plt.close(fig)

        report = classification_report(
            y_test, pred, target_names=list(data.target_names), output_dict=True
        )
        mlflow.log_dict(report, "reports/classification_report.json")
        mlflow.log_text(
            classification_report(y_test, pred, target_names=list(data.target_names)),
            "reports/classification_report.txt",
        )
        importance = dict(zip(features, model.feature_importances_.tolist()))
        mlflow.log_dict(importance, "reports/feature_importance.json")

        signature = infer_signature(X_test, pred)
        log_model_kwargs = dict(signature=signature, input_example=X_train[:5])
        if MLFLOW_MAJOR >= 3:
            info = mlflow.xgboost.log_model(model, name="model", **log_model_kwargs)
        else:
            info = mlflow.xgboost.log_model(model, artifact_path="model", **log_model_kwargs)

        # Round-trip check a user would do before handing the model on.
        reloaded = mlflow.pyfunc.load_model(info.model_uri)
        assert np.array_equal(np.asarray(reloaded.predict(X_test)).ravel(), pred)

        print(json.dumps(test_metrics))
        print(f"model_uri: {info.model_uri}")
        print(f"run_id: {run.info.run_id}")


if __name__ == "__main__":
    main()
