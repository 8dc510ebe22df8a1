"""The sample URLconf without its last route (test_check)."""
from sampleproj import urls

urlpatterns = [p for p in urls.urlpatterns if getattr(p, "name", None) != "plain"]
