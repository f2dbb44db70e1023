"""Huawei Cloud: one kind, `huawei`."""
