"""Image uploads: a presigned S3 upload, labelled by an S3 → SQS → Lambda handler.

``blobs`` serves the routes, ``processing`` the queue handler; ``records``
(DynamoDB), ``storage`` (S3), ``labelling`` and ``callbacks`` are the parts
they are given.  Nothing here imports boto3 or Pillow at module level.
"""
