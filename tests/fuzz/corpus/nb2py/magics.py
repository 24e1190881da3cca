%matplotlib inline
%%time
x = !ls -la
!echo {x[0]} $HOME
%env A=1
%cd /tmp
obj?
obj.attr??
%timeit -n 10 sum(range(100))
a = %sx echo hi
def f():
    %time g()
    return \
        1
%unknown_magic arg
