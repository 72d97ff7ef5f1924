"""Amazon sales channel for Adobe Commerce: the shared package deployed as a Lambda layer."""
