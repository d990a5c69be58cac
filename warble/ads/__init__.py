"""Ads: engagement prediction, generated ad copy, audience targeting and brand safety, on the Warble model."""
