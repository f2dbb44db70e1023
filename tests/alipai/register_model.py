"""Run in the alipai venv: alipai's own `Model(...).register(...)`, unmodified, configured only through its
documented session settings (`setup_default_session`) and the environment (HTTPS_PROXY, SSL_CERT_FILE,
ALIBABA_CLOUD_ECS_METADATA_DISABLED, PAI_CONFIG_PATH) by the test.

argv: access key id, workspace id, model name, uri. The secret comes on stdin (never in argv).
Prints one JSON line per registration.
"""

import json
import sys

from pai.model import Model
from pai.session import setup_default_session

key_id, workspace, name, uri = sys.argv[1:5]
setup_default_session(access_key_id=key_id, access_key_secret=sys.stdin.readline().strip(), region_id="cn-hangzhou",
                      workspace_id=workspace, network="PUBLIC")
for stage in ("dev", "staging"):
    registered = Model(model_data=uri).register(name, version_labels={"stage": stage}, format_type="SavedModel",
                                                framework_type="TensorFlow", metrics={"acc": 0.9})
    print(json.dumps({"name": registered.model_name, "version": registered.model_version, "id": registered.model_id}))
