"""Fold the parsed drafts into the model: common under each resource, and
resource-level volumes (8.4) into every host that does not override them."""
from __future__ import annotations

import copy

from .model import Config, Host, Resource, Settings, Volume
from .parser import ConfigDraft, ResourceDraft

_VOLUME_FIELDS = ("device", "minor", "disk", "meta_disk")


def _inherit(host_volume: Volume | None, default: Volume) -> Volume:
    if host_volume is None:
        return copy.deepcopy(default)
    merged = copy.deepcopy(host_volume)
    for name in _VOLUME_FIELDS:
        if getattr(merged, name) is None and getattr(default, name) is not None:
            setattr(merged, name, getattr(default, name))
            if name == "meta_disk":
                merged.meta_index = default.meta_index
    merged.disk_options = host_volume.disk_options.overlay(default.disk_options)
    if merged.where is None:
        merged.where = default.where
    return merged


def _host(host: Host, draft: ResourceDraft) -> Host:
    built = copy.copy(host)
    volumes = {number: _inherit(host.volumes.get(number), default)
               for number, default in draft.volumes.items()}
    for number, volume in host.volumes.items():
        volumes.setdefault(number, copy.deepcopy(volume))
    built.volumes = dict(sorted(volumes.items()))
    return built


def build(draft: ConfigDraft) -> Config:
    common = draft.common.settings if draft.common else Settings()
    config = Config(path=draft.path, global_options=draft.global_options,
                    common=copy.deepcopy(common))
    for res in draft.resources:
        config.resources.append(Resource(
            name=res.name,
            hosts=[_host(host, res) for host in res.hosts],
            settings=res.settings.overlay(common),
            where=res.where,
            syntax="8" if res.newer or draft.newer else "0.7",
        ))
    return config


def volume_disk_options(resource: Resource, volume: Volume):
    """The disk options one volume runs with: its own over the resource's."""
    return volume.disk_options.overlay(resource.settings.disk)

