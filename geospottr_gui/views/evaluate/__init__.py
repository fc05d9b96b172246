"""The Evaluate workspace: metrics, the confusion matrix, heat maps of test photos and the learning curve."""
