"""Image prediction: ONNX classification and object detection."""

# The Content-Types a single raw image body may carry (app.py declares them
# as binary; the document and the request reader list them). Kept here, with
# no import, so that app.py's cold start does not load the image code.
RAW_IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png", "image/webp", "image/gif",
                   "image/bmp", "image/x-ms-bmp")
