"""peerwatt: edge agent for peer-to-peer energy trading settled over Lightning."""
