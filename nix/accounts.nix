# /etc/passwd, /etc/group and /etc/shadow for root and one user, as
# mkRootTree `files` entries (mkDevContainer, mkRuntime). groupLines: extra
# lines of /etc/group between root's and the user's ("wheel:x:10:vscode\n").
{ user, uid, gid, home, shell, groupLines ? "" }:
{
  "/etc/passwd" = { text = ''
    root:x:0:0:root:/root:${shell}
    ${user}:x:${toString uid}:${toString gid}:${user}:${home}:${shell}
  ''; };
  "/etc/group" = { text = ''
    root:x:0:
  '' + groupLines + ''
    ${user}:x:${toString gid}:
  ''; };
  "/etc/shadow" = { mode = "0640"; text = ''
    root:!:1::::::
    ${user}:!:1::::::
  ''; };
}
