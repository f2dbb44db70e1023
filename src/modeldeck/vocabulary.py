"""The platform's enumerations, shared by the platform's rules and the client's forms and panel.

Plain tuples with no imports, so the kernel side can offer the same choices the platform enforces.
"""

FORMAT_TYPES = (
    "OfflineModel", "SavedModel", "Keras H5", "Frozen Pb", "Caffe Prototxt", "TorchScript", "XGBoost",
    "PMML", "AlinkModel", "ONNX",
    # Beyond PAI's list: formats the local platform can hold or run.
    "SkopsModel", "PickleModel", "SafeTensors",
)  # fmt: skip
FRAMEWORK_TYPES = (
    "Pytorch", "XGBoost", "Keras", "Caffe", "Alink", "Xflow", "TensorFlow",
    "ScikitLearn", "ONNX", "Transformers",
)  # fmt: skip
SOURCE_TYPES = ("Custom", "PAIFlow", "TrainingService")
APPROVAL_STATUSES = ("Pending", "Approved", "Rejected")
ACCESSIBILITIES = ("PRIVATE", "PUBLIC")
GRANT_ACTIONS = ("inference", "fine_tune", "deploy")
AUTHORIZATION_MODES = ("strict", "loose")
ROLE_NAMES = ("admin", "developer", "viewer")
# MAJOR.MINOR.PATCH[_suffix]: no leading zeros (01.2.3 would be a second 1.2.3), at most 9 digits a number
# (they are stored as 32-bit integers). Match it whole (Python: fullmatch; `$` alone also matches before a
# trailing newline); JavaScript reads the same text as a RegExp.
VERSION_PATTERN = r"^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})(_\w+)?$"
