from tests import factories


def test_publish_flow_and_catalog(client, platform):
    dataset = factories.published_dataset(client, platform, n_records=10)
    assert dataset["status"] == "published"
    listing = client.get("/api/v1/datasets?q=forum").get_json()
    assert [item["slug"] for item in listing["items"]] == [dataset["slug"]]
