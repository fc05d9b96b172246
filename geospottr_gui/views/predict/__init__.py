"""The Predict workspace's parts, one widget per module; `geospottr_gui.views.predict.predict_view.PredictView`
puts them together and owns the model, the queue's jobs and the export."""
