
auth