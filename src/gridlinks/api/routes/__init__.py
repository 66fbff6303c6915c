"""One module per feature, each an ``APIRouter`` on ThingsBoard's paths."""
