"""Quickstart: train a breast-cancer classifier and track it with MLflow.

Plain MLflow client code, nothing Ferry-specific: point MLFLOW_TRACKING_URI at
`ferry server` (or any MLflow tracking server) and run

    python train.py --experiment-name quickstart --epochs 30
    python train.py --worse     # a deliberately bad model, to see a promotion refused

The dataset ships inside scikit-learn, so nothing is downloaded. A linear model
(StandardScaler + SGDClassifier with logistic loss) is trained one epoch at a
time so that loss and AUC can be logged per step; the fitted pipeline is logged
as an MLflow sklearn model with a signature and an input example.
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
import mlflow.sklearn  # noqa: E402
import numpy as np  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.linear_model import SGDClassifier  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    ConfusionMatrixDisplay,
    RocCurveDisplay,
    accuracy_score,
    classification_report,
    log_loss,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment-name", default="quickstart")
    p.add_argument("--run-name", default=None)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--alpha", type=float, default=1e-4, help="L2 regularisation strength")
    p.add_argument("--eta0", type=float, default=0.01, help="initial learning rate")
    p.add_argument("--test-size", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--worse",
        action="store_true",
        help="train a deliberately worse model (1 epoch, alpha=10: heavily over-regularised); "
        "overrides --epochs and --alpha",
    )
    args = p.parse_args()
    if args.worse:
        args.epochs, args.alpha = 1, 10.0
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
    X_train, y_train = train_df[features], train_df["target"].to_numpy()
    X_test, y_test = test_df[features], test_df["target"].to_numpy()

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
                "model": "SGDClassifier(log_loss)",
                "epochs": args.epochs,
                "alpha": args.alpha,
                "eta0": args.eta0,
                "learning_rate": "adaptive",
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

        scaler = StandardScaler().fit(X_train)
        Xs_train, Xs_test = scaler.transform(X_train), scaler.transform(X_test)
        clf = SGDClassifier(
            loss="log_loss",
            alpha=args.alpha,
            learning_rate="adaptive",
            eta0=args.eta0,
            random_state=args.seed,
        )
        classes = np.unique(y_train)
        for epoch in range(args.epochs):
            clf.partial_fit(Xs_train, y_train, classes=classes)
            p_train = clf.predict_proba(Xs_train)[:, 1]
            p_test = clf.predict_proba(Xs_test)[:, 1]
            mlflow.log_metrics(
                {
                    "train_loss": log_loss(y_train, p_train),
                    "val_loss": log_loss(y_test, p_test),
                    "train_auc": roc_auc_score(y_train, p_train),
                    "val_auc": roc_auc_score(y_test, p_test),
                },
                step=epoch,
            )

        model = Pipeline([("scaler", scaler), ("clf", clf)])
        proba = model.predict_proba(X_test)[:, 1]
        pred = model.predict(X_test)
        mlflow.log_metrics(
            {"test_accuracy": accuracy_score(y_test, pred), "test_auc": roc_auc_score(y_test, proba)}
        )

        fig, (ax_roc, ax_cm) = plt.subplots(1, 2, figsize=(10, 4))
        RocCurveDisplay.from_predictions(y_test, proba, ax=ax_roc, name="SGD logistic")
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

        signature = infer_signature(X_test, model.predict(X_test))
        log_model_kwargs = dict(signature=signature, input_example=X_train.head(5))
        if MLFLOW_MAJOR >= 3:
            info = mlflow.sklearn.log_model(model, name="model", **log_model_kwargs)
        else:
            info = mlflow.sklearn.log_model(model, artifact_path="model", **log_model_kwargs)

        # Round-trip check a user would do before handing the model on.
        reloaded = mlflow.pyfunc.load_model(info.model_uri)
        assert np.array_equal(np.asarray(reloaded.predict(X_test)), pred)

        print(json.dumps({"test_accuracy": accuracy_score(y_test, pred), "test_auc": roc_auc_score(y_test, proba)}))
        print(f"model_uri: {info.model_uri}")
        print(f"run_id: {run.info.run_id}")


if __name__ == "__main__":
    main()
