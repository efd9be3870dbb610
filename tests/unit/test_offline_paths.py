from offline.recorder import RegisteredResource


def resource(secret_paths):
    return RegisteredResource(
        urn="u",
        id="i",
        type="t",
        name="n",
        parent="",
        custom=True,
        inputs={},
        secret_paths=secret_paths,
        dependencies=[],
        property_dependencies={},
        provider="",
        additional_secret_outputs=[],
    )


def test_paths_inside_a_secret_list_or_object_are_secret():
    r = resource(["tunnelOptionsSpecifications", "tunnel1PresharedKey"])
    assert r.is_secret("tunnelOptionsSpecifications[0].tunnelIkeConfig.psk")
    assert r.is_secret("tunnel1PresharedKey")
    assert not r.is_secret("tunnelOptionsSpecificationsExtra")
    assert not r.is_secret("tunnel1PresharedKeyId")
    assert not r.is_secret("tags.Name")
