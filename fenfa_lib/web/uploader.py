"""GET /fenfa-upload.py: the command-line uploader for CI (static/fenfa-upload.py), served as a file to save."""
from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("uploader", __name__)
SCRIPT_NAME = "fenfa-upload.py"


@bp.get("/fenfa-upload.py")
def uploader_script():
    return send_from_directory(current_app.static_folder, SCRIPT_NAME, mimetype="text/x-python",
                               as_attachment=True, download_name=SCRIPT_NAME)
