"""Run in the alipai venv (alipai 0.4.13, numpy<2): the model registration flow of
`pai.model.Model.register` (`pai/model/_model.py`) through alipai's own `ModelAPI` over its vendored
AIWorkspace client, configured as `ClientFactory.create_client` configures it (`signature_algorithm="v2"`:
the legacy ROA HMAC-SHA1 signature) except for the endpoint, which alipai cannot be told (docs/clouds/alibaba.md).

argv: endpoint (host:port/aiworkspace), workspace id, model name, uri. AccessKey from
ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET. Prints one JSON line: what each step answered.
"""

import json
import os
import sys

from alibabacloud_tea_openapi.models import Config
from pai.api.model import ModelAPI
from pai.libs.alibabacloud_aiworkspace20210204.client import Client

endpoint, workspace, name, uri = sys.argv[1:5]
config = Config(access_key_id=os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                access_key_secret=os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], endpoint=endpoint, protocol="HTTP",
                region_id="cn-hangzhou", signature_algorithm="v2")
api = ModelAPI(workspace_id=workspace, acs_client=Client(config))
out = {}
for attempt in ("first", "second"):  # the second register finds the model by its exact name
    found = api.list(model_name=f'"{name}"')
    model_id = api.create(model_name=name, labels={"team": "b"}, accessibility="PRIVATE") if found.total_count == 0 \
        else found.items[0]["ModelId"]
    version = api.create_version(model_id=model_id, uri=uri, labels={"stage": "dev"}, format_type="SavedModel",
                                 framework_type="TensorFlow", inference_spec={"processor": "tensorflow_cpu_2.7"})
    out[attempt] = {"found": found.total_count, "model_id": model_id, "version": version}
out["versions"] = [v["VersionName"] for v in api.list_versions(model_id=model_id).items]
print(json.dumps(out))
