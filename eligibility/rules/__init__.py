"""Rules as code: pure, total functions of (parameters, facts) → Determination. No ORM here;
the batch, the preview, the simulator page and `manage.py simulate` all call them."""
