"""Prediction: encoding (Parquet cache), fitting, evaluation, submission, synthetic data, the predictors."""
