"""What a CloudFormation template node refers to, for the scripts beside it (standard library
only, so it imports in any of their venvs)."""

import re

# ${Name} or ${Name.Attribute} in a Fn::Sub string; ${!Literal} is not a reference.
SUB_NAME = re.compile(r"\$\{([^!}][^}]*)\}")


def referenced(node) -> set:
    """Every name `node` refers to: Ref, Fn::GetAtt's resource, and Fn::Sub's ${...} (the
    resource of ${Resource.Attribute}; parameters and pseudo parameters such as AWS::Region)."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    found.update(name.split(".")[0] for name in SUB_NAME.findall(text))
            found |= referenced(value)
    elif isinstance(node, list):
        for item in node:
            found |= referenced(item)
    return found
