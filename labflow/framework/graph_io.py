"""GraphDef <-> Graph (stub until the GraphDef work lands)."""


def import_graph_def(graph_def, input_map=None, return_elements=None, name=None, op_dict=None,
                     producer_op_list=None):
    raise NotImplementedError
