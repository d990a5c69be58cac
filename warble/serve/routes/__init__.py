"""HTTP routes of the stages built on the engine (search answers, ads), each an APIRouter that create_app includes."""
