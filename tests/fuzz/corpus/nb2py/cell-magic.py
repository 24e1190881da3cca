%%bash
echo "My shell is:" $SHELL
df -h
